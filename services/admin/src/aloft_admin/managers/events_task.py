"""CreateTaskEvent: every attempt (``retry_attempt``) of a node's task is its own task execution.

Repeated events of one phase with a higher ``phase_version`` are progress (new logs, reasons); an equal or lower
version of the recorded phase is a duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.admin import task_execution_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.core import identifier_pb2
from flyteidl.event import event_pb2

from aloft_admin.managers.events_common import (
    EventKind,
    check_event_cluster,
    occurred_at,
    seconds_between,
)
from aloft_admin.managers.task_metadata import merge_metadata, merge_task_logs
from aloft_admin.repositories.base import Repositories
from aloft_admin.repositories.models.executions import TaskExecutionModel
from aloft_admin.transformers.task_executions import new_task_execution_row, task_closure_of
from aloft_admin.transformers.timestamps import to_timestamp
from aloft_admin.transitions import TASK_POLICY, Transition
from aloft_admin.validation.execution_identifiers import (
    describe_node_execution,
    describe_task_execution,
    validate_task_execution_id,
)
from aloft_service.errors import NotFound

TASK = core.TaskExecution


def attempt_ended(phase: int) -> bool:
    """Terminal phases, and RETRYABLE_FAILED: the attempt is over (a retry is a new attempt), so its error (message,
    kind, code) is recorded in the closure as flyteadmin does for every failed attempt."""
    return TASK_POLICY.is_terminal(phase) or phase == TASK.RETRYABLE_FAILED


def task_execution_id(event: event_pb2.TaskExecutionEvent) -> identifier_pb2.TaskExecutionIdentifier:
    return identifier_pb2.TaskExecutionIdentifier(
        task_id=event.task_id, node_execution_id=event.parent_node_execution_id, retry_attempt=event.retry_attempt
    )


async def prefetch_task_events(tx: Repositories, tids: Sequence[identifier_pb2.TaskExecutionIdentifier]) -> None:
    """The attempts' rows, locked; for the first events among them (no row yet), whether their nodes exist (``create``
    checks it): a statement per execution each, instead of a query per first event."""
    await tx.task_executions.prefetch(tids)
    firsts = [tid.node_execution_id for tid in tids if await tx.task_executions.for_event(tid) is None]
    await tx.node_executions.prefetch_existing(firsts)


class TaskEventManager(
    EventKind[event_pb2.TaskExecutionEvent, TaskExecutionModel, admin_event_pb2.TaskExecutionEventResponse]
):
    """CreateTaskEvent. Every attempt of a node's task is its own row, created by the attempt's first event; a
    repeated phase with a higher phase version is progress."""

    policy = TASK_POLICY
    response = admin_event_pb2.TaskExecutionEventResponse

    def checked(self, event: event_pb2.TaskExecutionEvent) -> datetime:
        validate_task_execution_id(task_execution_id(event), "event")
        return occurred_at(event.occurred_at, "event.occurred_at")

    def describe(self, event: event_pb2.TaskExecutionEvent) -> str:
        return describe_task_execution(task_execution_id(event))

    async def load(self, tx: Repositories, event: event_pb2.TaskExecutionEvent, what: str) -> TaskExecutionModel | None:
        await check_event_cluster(tx, event.parent_node_execution_id.execution_id, event.producer_id, what)
        return await tx.task_executions.for_event(task_execution_id(event))

    async def prefetch(self, tx: Repositories, events: Sequence[event_pb2.TaskExecutionEvent]) -> None:
        await prefetch_task_events(tx, [task_execution_id(event) for event in events])

    async def create(self, tx: Repositories, event: event_pb2.TaskExecutionEvent, at: datetime) -> TaskExecutionModel:
        node = event.parent_node_execution_id
        if not await tx.node_executions.exists(node):
            raise NotFound(f"{describe_node_execution(node)} not found")
        row = new_task_execution_row(task_execution_id(event), at, self.clock())
        await tx.task_executions.add(row)
        return row

    def transition(self, row: TaskExecutionModel, event: event_pb2.TaskExecutionEvent) -> Transition:
        return Transition(TASK.Phase.Value(row.phase), event.phase, row.phase_version, event.phase_version)

    async def apply(self, row: TaskExecutionModel, event: event_pb2.TaskExecutionEvent, at: datetime) -> None:
        closure = task_closure_of(row)
        closure.phase = event.phase
        row.phase = TASK.Phase.Name(event.phase)
        row.phase_version = event.phase_version
        row.task_execution_updated_at = at
        row.updated_at = self.clock()
        if event.phase == TASK.RUNNING and row.started_at is None:
            row.started_at = at
            closure.started_at.CopyFrom(to_timestamp(at))
        row.input_uri = await self.offload.inputs(event, row.input_uri, *_attempt_prefix(row))
        merge_task_logs(closure.logs, event.logs)
        append_reasons(closure, event, at)
        _record_details(closure, event)
        if attempt_ended(event.phase):
            row.duration = seconds_between(row.started_at, at)
            await self._record_result(row, closure, event)
        row.closure = closure.SerializeToString()

    async def _record_result(
        self,
        row: TaskExecutionModel,
        closure: task_execution_pb2.TaskExecutionClosure,
        event: event_pb2.TaskExecutionEvent,
    ) -> None:
        outputs = await self.offload.outputs(event, *_attempt_prefix(row))
        if outputs is not None:
            closure.output_uri = outputs
        elif event.WhichOneof("output_result") == "error":
            closure.error.CopyFrom(event.error)


def append_reasons(
    closure: task_execution_pb2.TaskExecutionClosure, event: event_pb2.TaskExecutionEvent, at: datetime
) -> None:
    for reason in event.reasons:
        entry = closure.reasons.add(message=reason.reason)
        entry.occurred_at.CopyFrom(reason.occurred_at if reason.HasField("occurred_at") else to_timestamp(at))
    if event.reason and not event.reasons:
        closure.reasons.add(message=event.reason).occurred_at.CopyFrom(to_timestamp(at))
    if event.reason or event.reasons:
        closure.reason = event.reason or event.reasons[-1].reason


def _record_details(closure: task_execution_pb2.TaskExecutionClosure, event: event_pb2.TaskExecutionEvent) -> None:
    if event.HasField("custom_info"):
        closure.custom_info.CopyFrom(event.custom_info)
    if event.HasField("metadata"):
        merge_metadata(closure, event)
    if event.HasField("log_context"):
        closure.log_context.CopyFrom(event.log_context)
    closure.task_type = event.task_type or closure.task_type
    closure.event_version = event.event_version


def _attempt_prefix(row: TaskExecutionModel) -> tuple[str, ...]:
    return (
        row.execution_project,
        row.execution_domain,
        row.execution_name,
        "nodes",
        row.node_id,
        "tasks",
        row.task_name,
        str(row.retry_attempt),
    )
