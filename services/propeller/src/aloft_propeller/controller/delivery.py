"""Deliver a record's event outbox to admin, in order, honouring admin's refusals.

Refused as already terminal: the entity is muted (no more events). For the workflow itself, or when admin says
the execution belongs to another cluster, the execution is stopped here: an abort is requested, which the next
round carries out (killing running attempts) without telling admin again.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from aloft_propeller.events.recorder import WORKFLOW_ENTITY, entity_of
from aloft_propeller.events.sink import Delivery, EventSink
from aloft_propeller.state import OutboxEvent, WorkflowState
from aloft_propeller.store.base import WorkflowRecord, WorkflowStore
from aloft_service.errors import Unavailable

log = logging.getLogger(__name__)


def _apply(state: WorkflowState, kind: str, payload: bytes, outcome: Delivery) -> None:
    if outcome in (Delivery.DELIVERED, Delivery.REJECTED):
        return
    entity = entity_of(kind, payload)
    if entity not in state.muted:
        state.muted.append(entity)
    if entity == WORKFLOW_ENTITY or outcome == Delivery.INCOMPATIBLE_CLUSTER:
        if WORKFLOW_ENTITY not in state.muted:
            state.muted.append(WORKFLOW_ENTITY)
        if not state.abort_cause and not state.phase.is_terminal:
            state.abort_cause = f"admin reports the execution is {outcome.value.lower().replace('_', ' ')}"
    # Later events for a muted entity are dropped.
    state.outbox = [
        event for event in state.outbox if entity_of(event.kind, base64.b64decode(event.payload_b64)) not in state.muted
    ]


_PARALLEL_GROUPS = 32


def _waves(events: list[OutboxEvent]) -> list[list[OutboxEvent]]:
    """Split at workflow events (each is a wave of its own): everything before one is delivered before it."""
    waves: list[list[OutboxEvent]] = [[]]
    for event in events:
        if event.kind == "workflow":
            waves.extend([[event], []])
        else:
            waves[-1].append(event)
    return [wave for wave in waves if wave]


async def _send_wave(wave: list[OutboxEvent], sink: EventSink, outcomes: dict[int, Delivery]) -> bool:
    """Each group's events in order, groups concurrently. False if any event could not be sent."""
    groups: dict[str, list[OutboxEvent]] = {}
    for event in wave:
        groups.setdefault(event.group, []).append(event)
    gate = asyncio.Semaphore(_PARALLEL_GROUPS)
    failed: list[BaseException] = []

    async def send_group(sequence: list[OutboxEvent]) -> None:
        refused: dict[str, Delivery] = {}  # entity → admin's refusal: its later events are not sent
        async with gate:
            for event in sequence:
                payload = base64.b64decode(event.payload_b64)
                entity = entity_of(event.kind, payload)
                if entity in refused:
                    outcomes[id(event)] = refused[entity]
                    continue
                try:
                    outcomes[id(event)] = await sink.send(event.kind, payload)
                except Exception as exc:  # noqa: BLE001 - the group stops; the round reports it
                    log.warning("event delivery failed: %s", exc)
                    failed.append(exc)
                    return
                if outcomes[id(event)] in (Delivery.ALREADY_TERMINAL, Delivery.INCOMPATIBLE_CLUSTER):
                    refused[entity] = outcomes[id(event)]

    await asyncio.gather(*(send_group(sequence) for sequence in groups.values()))
    return not failed


# Events per RecordEvents call: admin records a batch in one transaction.
BATCH_SIZE = 500


async def _send_batches(
    events: list[OutboxEvent], send_batch: Callable[[list[tuple[str, bytes]]], Awaitable[list[Delivery | None] | None]]
) -> list[tuple[OutboxEvent, Delivery | None]] | None:
    """In order, in batches admin records one transaction each; stop at the first batch not fully recorded.
    None when the receiver takes no batches."""
    outcomes: list[Delivery | None] = []
    for start in range(0, len(events), BATCH_SIZE):
        chunk = events[start : start + BATCH_SIZE]
        try:
            answered = await send_batch([(e.kind, base64.b64decode(e.payload_b64)) for e in chunk])
        except Exception as exc:  # noqa: BLE001 - the rest stays in the outbox; the round reports it
            log.warning("event delivery failed: %s", exc)
            break
        if answered is None:
            if start == 0:
                return None
            break  # the next round sends the rest one at a time
        outcomes.extend(answered)
        if None in answered:
            break
    outcomes.extend([None] * (len(events) - len(outcomes)))
    # An event after one not recorded waits for it: order holds across rounds.
    if None in outcomes:
        first_missing = outcomes.index(None)
        outcomes[first_missing:] = [None] * (len(events) - first_missing)
    return list(zip(events, outcomes, strict=True))


async def _send_all(events: list[OutboxEvent], sink: EventSink) -> list[tuple[OutboxEvent, Delivery | None]]:
    """Deliver in order (see ``_waves``); stop after a wave with a failure. None marks an event not delivered."""
    send_batch = getattr(sink, "send_batch", None)
    if send_batch is not None:
        batched = await _send_batches(events, send_batch)
        if batched is not None:
            return batched
    outcomes: dict[int, Delivery] = {}
    for wave in _waves(events):
        if not await _send_wave(wave, sink, outcomes):
            break
    return [(event, outcomes.get(id(event))) for event in events]


def _settled(state: WorkflowState, results: list[tuple[OutboxEvent, Delivery | None]]) -> bool:
    """Every event sent was delivered (or rejected for good), no refusal to act on, and the workflow still running."""
    accepted = all(outcome in (Delivery.DELIVERED, Delivery.REJECTED) for _, outcome in results)
    return accepted and not state.phase.is_terminal


def fold(record: WorkflowRecord, results: list[tuple[OutboxEvent, Delivery | None]]) -> tuple[WorkflowRecord, bool]:
    """The record with the events sent (``results``) out of its outbox and admin's refusals applied; events added
    to the outbox after those were sent stay. True when the change must be written (a refusal, an event not
    delivered, or a terminal workflow), False when it is only a shorter outbox, which the caller's next write must
    record before the record can be read again from the store: admin answers a replay of the current phase as a
    duplicate, but records a replayed earlier phase (QUEUED after RUNNING) as new (a crash in between replays)."""
    # Delivery changes only the outbox, the muted list and the abort cause: copy those, share the (large) rest.
    state = replace(record.state, outbox=list(record.state.outbox), muted=list(record.state.muted))
    done = {(event.kind, event.payload_b64) for event, outcome in results if outcome is not None}
    state.outbox = [event for event in state.outbox if (event.kind, event.payload_b64) not in done]
    for event, outcome in results:
        if outcome is not None:
            _apply(state, event.kind, base64.b64decode(event.payload_b64), outcome)
    return record.with_state(state), not _settled(state, results)


async def send_outbox(events: list[OutboxEvent], sink: EventSink) -> list[tuple[OutboxEvent, Delivery | None]]:
    """Send ``events`` in order; None marks an event not delivered (it and everything after it in its group)."""
    return await _send_all(events, sink)


async def deliver_outbox(record: WorkflowRecord, sink: EventSink, store: WorkflowStore) -> WorkflowRecord:
    """Send every pending event; persist progress. Raises (after persisting what was sent) if admin is down."""
    if not record.state.outbox:
        return record
    results = await _send_all(list(record.state.outbox), sink)
    record, write = fold(record, results)
    if not write:
        return record
    record = await store.update(record)
    undelivered = sum(1 for _, outcome in results if outcome is None)
    if undelivered:
        raise Unavailable(f"{undelivered} events for {record.key} could not be delivered yet")
    return record
