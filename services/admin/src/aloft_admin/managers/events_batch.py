"""RecordEvents (aloft.events.v1): a batch of events recorded in order in one transaction.

The batch's rows are read in one statement per execution and written together (a ``batched`` unit of work).
Each event goes through the same rules as its single-event RPC (``record_event_in`` with the kind of events_workflow,
events_node, events_task). When any event of the batch is refused, the transaction is rolled back and the batch is
recorded again one event per transaction through the single-event managers themselves, so every event gets exactly
the answer CreateWorkflowEvent / CreateNodeEvent / CreateTaskEvent would have given it. The answer is sent only
after the commit: nothing is acknowledged before it is durable.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from aloft.events.v1 import events_pb2
from flyteidl.admin import event_pb2 as admin_event_pb2

from aloft_admin.deps import AdminDeps
from aloft_admin.managers.events_common import occurred_at, record_event_in
from aloft_admin.managers.events_node import NODE_EVENTS, checked_node_event, record_node_event
from aloft_admin.managers.events_task import TASK_EVENTS, checked_task_event, record_task_event, task_execution_id
from aloft_admin.managers.events_workflow import WORKFLOW_EVENTS, record_workflow_event
from aloft_admin.repositories.base import Repositories
from aloft_service.errors import AloftError, InvalidArgument, Unavailable

MAX_BATCH = 5000
_RECORDED = events_pb2.EventOutcome(code=grpc.StatusCode.OK.value[0])


async def record_events(deps: AdminDeps, request: events_pb2.RecordEventsRequest) -> events_pb2.RecordEventsResponse:
    if len(request.events) > MAX_BATCH:
        raise InvalidArgument(f"events: at most {MAX_BATCH} events per batch, got {len(request.events)}")
    try:
        async with deps.repos.transaction(batched=True) as tx:
            await _prefetch(tx, request.events)
            for event in request.events:
                await _record_in(deps, tx, event)
    except Unavailable:
        raise  # nothing was recorded; the producer sends the batch again
    except AloftError:
        return events_pb2.RecordEventsResponse(outcomes=[await _record_alone(deps, e) for e in request.events])
    return events_pb2.RecordEventsResponse(outcomes=[_RECORDED] * len(request.events))


async def _prefetch(tx: Repositories, events: Sequence[events_pb2.Event]) -> None:
    """The batch's node and task execution rows in a statement per execution, instead of one per event."""
    await tx.node_executions.prefetch([e.node.id for e in events if e.WhichOneof("event") == "node"])
    await tx.task_executions.prefetch([task_execution_id(e.task) for e in events if e.WhichOneof("event") == "task"])


async def _record_in(deps: AdminDeps, tx: Repositories, event: events_pb2.Event) -> None:
    kind = event.WhichOneof("event")
    if kind == "workflow":
        at = occurred_at(event.workflow.occurred_at, "event.occurred_at")
        await record_event_in(deps, tx, WORKFLOW_EVENTS, event.workflow, at)
    elif kind == "node":
        await record_event_in(deps, tx, NODE_EVENTS, event.node, checked_node_event(event.node))
    elif kind == "task":
        _, at = checked_task_event(event.task)
        await record_event_in(deps, tx, TASK_EVENTS, event.task, at)
    else:
        raise InvalidArgument("event: one of workflow, node or task is required")


async def _record_alone(deps: AdminDeps, event: events_pb2.Event) -> events_pb2.EventOutcome:
    """One event in its own transaction, answered as its single-event RPC would answer it."""
    kind = event.WhichOneof("event")
    try:
        if kind == "workflow":
            workflow = admin_event_pb2.WorkflowExecutionEventRequest(request_id=event.request_id, event=event.workflow)
            await record_workflow_event(deps, workflow)
        elif kind == "node":
            node = admin_event_pb2.NodeExecutionEventRequest(request_id=event.request_id, event=event.node)
            await record_node_event(deps, node)
        elif kind == "task":
            task = admin_event_pb2.TaskExecutionEventRequest(request_id=event.request_id, event=event.task)
            await record_task_event(deps, task)
        else:
            raise InvalidArgument("event: one of workflow, node or task is required")
    except Unavailable:
        raise  # the events before it are recorded; a replay of them is answered as a duplicate
    except AloftError as exc:
        return outcome_of(exc)
    return _RECORDED


def outcome_of(error: AloftError) -> events_pb2.EventOutcome:
    outcome = events_pb2.EventOutcome(code=error.code.value[0], message=error.message)
    if isinstance(error.details, admin_event_pb2.EventFailureReason):
        outcome.failure_reason.CopyFrom(error.details)
    return outcome
