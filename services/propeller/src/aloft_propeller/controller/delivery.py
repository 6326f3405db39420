"""Deliver a record's event outbox to admin, in order, honouring admin's refusals.

Refused as already terminal: the entity is muted (no more events). For the workflow itself, or when admin says
the execution belongs to another cluster, the execution is stopped here: an abort is requested, which the next
round carries out (killing running attempts) without telling admin again.
"""

from __future__ import annotations

import base64
import logging

from aloft_propeller.events.recorder import WORKFLOW_ENTITY, entity_of
from aloft_propeller.events.sink import Delivery, EventSink
from aloft_propeller.state import WorkflowState
from aloft_propeller.store.base import WorkflowRecord, WorkflowStore

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


async def deliver_outbox(record: WorkflowRecord, sink: EventSink, store: WorkflowStore) -> WorkflowRecord:
    """Send every pending event; persist progress. Raises (after persisting what was sent) if admin is down."""
    if not record.state.outbox:
        return record
    state = WorkflowState.from_json(record.state.to_json())
    try:
        while state.outbox:
            event = state.outbox[0]
            payload = base64.b64decode(event.payload_b64)
            outcome = await sink.send(event.kind, payload)
            if state.outbox and state.outbox[0] is event:
                state.outbox.pop(0)
            _apply(state, event.kind, payload, outcome)
    finally:
        record = await store.update(record.with_state(state))
    return record
