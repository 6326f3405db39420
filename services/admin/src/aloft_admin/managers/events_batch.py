"""RecordEvents (aloft.events.v1): a batch of events recorded in order in one transaction.

The batch's rows are read in one statement per execution and written together (a ``batched`` unit of work).
Each event goes through the same rules as its single-event RPC (``EventRecorder.record_in`` with the manager of
events_workflow, events_node, events_task as its kind). When any event of the batch is refused, the transaction is
rolled back and the batch is recorded again one event per transaction through the single-event managers themselves,
so every event gets exactly the answer CreateWorkflowEvent / CreateNodeEvent / CreateTaskEvent would have given it.
The answer is sent only after the commit: nothing is acknowledged before it is durable.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from aloft.events.v1 import events_pb2
from flyteidl.admin import event_pb2 as admin_event_pb2

from aloft_admin.managers.events_common import EventRecorder
from aloft_admin.managers.events_node import NodeEventManager
from aloft_admin.managers.events_task import TaskEventManager, prefetch_task_events, task_execution_id
from aloft_admin.managers.events_workflow import WorkflowEventManager
from aloft_admin.repositories.base import Repositories, RepositoryProvider
from aloft_service.errors import AloftError, InvalidArgument, Unavailable

MAX_BATCH = 5000
_RECORDED = events_pb2.EventOutcome(code=grpc.StatusCode.OK.value[0])


class EventBatchManager:
    """RecordEvents, over the three single-event managers (each is also its kind of the shared skeleton)."""

    def __init__(
        self,
        repos: RepositoryProvider,
        recorder: EventRecorder,
        workflows: WorkflowEventManager,
        nodes: NodeEventManager,
        tasks: TaskEventManager,
    ) -> None:
        self._repos = repos
        self._recorder = recorder
        self._workflows = workflows
        self._nodes = nodes
        self._tasks = tasks

    async def record(self, request: events_pb2.RecordEventsRequest) -> events_pb2.RecordEventsResponse:
        if len(request.events) > MAX_BATCH:
            raise InvalidArgument(f"events: at most {MAX_BATCH} events per batch, got {len(request.events)}")
        try:
            async with self._repos.transaction(batched=True) as tx:
                await _prefetch(tx, request.events)
                for event in request.events:
                    await self._record_in(tx, event)
        except Unavailable:
            raise  # nothing was recorded; the producer sends the batch again
        except AloftError:
            return events_pb2.RecordEventsResponse(outcomes=[await self._record_alone(e) for e in request.events])
        return events_pb2.RecordEventsResponse(outcomes=[_RECORDED] * len(request.events))

    async def _record_in(self, tx: Repositories, event: events_pb2.Event) -> None:
        kind = event.WhichOneof("event")
        if kind == "workflow":
            await self._recorder.record_in(tx, self._workflows, event.workflow, self._workflows.checked(event.workflow))
        elif kind == "node":
            await self._recorder.record_in(tx, self._nodes, event.node, self._nodes.checked(event.node))
        elif kind == "task":
            await self._recorder.record_in(tx, self._tasks, event.task, self._tasks.checked(event.task))
        else:
            raise InvalidArgument("event: one of workflow, node or task is required")

    async def _record_alone(self, event: events_pb2.Event) -> events_pb2.EventOutcome:
        """One event in its own transaction, answered as its single-event RPC would answer it."""
        kind = event.WhichOneof("event")
        try:
            if kind == "workflow":
                workflow = admin_event_pb2.WorkflowExecutionEventRequest(
                    request_id=event.request_id, event=event.workflow
                )
                await self._workflows.record(workflow)
            elif kind == "node":
                node = admin_event_pb2.NodeExecutionEventRequest(request_id=event.request_id, event=event.node)
                await self._nodes.record(node)
            elif kind == "task":
                task = admin_event_pb2.TaskExecutionEventRequest(request_id=event.request_id, event=event.task)
                await self._tasks.record(task)
            else:
                raise InvalidArgument("event: one of workflow, node or task is required")
        except Unavailable:
            raise  # the events before it are recorded; a replay of them is answered as a duplicate
        except AloftError as exc:
            return outcome_of(exc)
        return _RECORDED


async def _prefetch(tx: Repositories, events: Sequence[events_pb2.Event]) -> None:
    """The batch's node and task execution rows in a statement per execution, instead of one per event."""
    await tx.node_executions.prefetch([e.node.id for e in events if e.WhichOneof("event") == "node"])
    await prefetch_task_events(tx, [task_execution_id(e.task) for e in events if e.WhichOneof("event") == "task"])


def outcome_of(error: AloftError) -> events_pb2.EventOutcome:
    outcome = events_pb2.EventOutcome(code=error.code.value[0], message=error.message)
    if isinstance(error.details, admin_event_pb2.EventFailureReason):
        outcome.failure_reason.CopyFrom(error.details)
    return outcome
