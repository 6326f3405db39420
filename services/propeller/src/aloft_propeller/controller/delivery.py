"""Deliver a record's event outbox to admin, in order, honouring admin's refusals.

Refused as already terminal: the entity is muted (no more events). For the workflow itself, or when admin says
the execution belongs to another cluster, the execution is stopped here: an abort is requested, which the next
round carries out (killing running attempts) without telling admin again.
"""

from __future__ import annotations

import asyncio
import base64
import logging

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


_PARALLEL_ENTITIES = 32


async def _send_all(events: list[OutboxEvent], sink: EventSink) -> list[tuple[OutboxEvent, Delivery | None]]:
    """Each entity's events in order; different entities concurrently. None marks an event not sent (error)."""
    by_entity: dict[str, list[OutboxEvent]] = {}
    for event in events:
        by_entity.setdefault(entity_of(event.kind, base64.b64decode(event.payload_b64)), []).append(event)
    outcomes: dict[int, Delivery] = {}
    errors: list[BaseException] = []
    gate = asyncio.Semaphore(_PARALLEL_ENTITIES)

    async def send_entity(sequence: list[OutboxEvent]) -> None:
        async with gate:
            for event in sequence:
                try:
                    outcomes[id(event)] = await sink.send(event.kind, base64.b64decode(event.payload_b64))
                except Exception as exc:  # noqa: BLE001 - reported after the others finish
                    errors.append(exc)
                    return
                if outcomes[id(event)] not in (Delivery.DELIVERED, Delivery.REJECTED):
                    return  # the entity is muted: its later events are dropped

    await asyncio.gather(*(send_entity(sequence) for sequence in by_entity.values()))
    if errors and not outcomes:
        raise errors[0]
    return [(event, outcomes.get(id(event))) for event in events]


async def deliver_outbox(record: WorkflowRecord, sink: EventSink, store: WorkflowStore) -> WorkflowRecord:
    """Send every pending event; persist progress. Raises (after persisting what was sent) if admin is down."""
    if not record.state.outbox:
        return record
    state = WorkflowState.from_json(record.state.to_json())
    results = await _send_all(list(state.outbox), sink)
    state.outbox = [event for event, outcome in results if outcome is None]
    for event, outcome in results:
        if outcome is not None:
            _apply(state, event.kind, base64.b64decode(event.payload_b64), outcome)
    record = await store.update(record.with_state(state))
    if state.outbox:
        raise Unavailable(f"{len(state.outbox)} events for {record.key} could not be delivered yet")
    return record
