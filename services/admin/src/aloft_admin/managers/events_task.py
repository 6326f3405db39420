"""CreateTaskEvent: every attempt (``retry_attempt``) of a node's task is its own task execution.

Repeated events of one phase with a higher ``phase_version`` are progress (new logs, reasons); an equal or lower
version of the recorded phase is a duplicate.
"""

from __future__ import annotations

from datetime import datetime

from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.admin import task_execution_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.core import identifier_pb2
from flyteidl.event import event_pb2

from aloft_admin.deps import AdminDeps
from aloft_admin.managers.events_common import (
    EventKind,
    check_event_cluster,
    occurred_at,
    offload_literal_map,
    record_single_event,
    seconds_between,
)
from aloft_admin.managers.executions_lookup import get_node_execution_row
from aloft_admin.managers.task_metadata import merge_metadata, merge_task_logs
from aloft_admin.repositories.base import Repositories
from aloft_admin.repositories.models.executions import TaskExecutionModel
from aloft_admin.transformers.task_executions import new_task_execution_row, task_closure_of
from aloft_admin.transformers.timestamps import to_timestamp
from aloft_admin.transitions import TASK_POLICY, Transition
from aloft_admin.validation.execution_identifiers import describe_task_execution, validate_task_execution_id
from aloft_service.errors import InvalidArgument

TASK = core.TaskExecution


def attempt_ended(phase: int) -> bool:
    """Terminal phases, and RETRYABLE_FAILED: the attempt is over (a retry is a new attempt), so its error (message,
    kind, code) is recorded in the closure as flyteadmin does for every failed attempt."""
    return TASK_POLICY.is_terminal(phase) or phase == TASK.RETRYABLE_FAILED


def task_execution_id(event: event_pb2.TaskExecutionEvent) -> identifier_pb2.TaskExecutionIdentifier:
    return identifier_pb2.TaskExecutionIdentifier(
        task_id=event.task_id, node_execution_id=event.parent_node_execution_id, retry_attempt=event.retry_attempt
    )


async def record_task_event(
    deps: AdminDeps, request: admin_event_pb2.TaskExecutionEventRequest
) -> admin_event_pb2.TaskExecutionEventResponse:
    if not request.HasField("event"):
        raise InvalidArgument("missing event")
    event = request.event
    _, at = checked_task_event(event)
    # A concurrent first event for the same attempt may win the insert: rerun, as an update.
    await record_single_event(deps, TASK_EVENTS, event, at)
    return admin_event_pb2.TaskExecutionEventResponse()


def checked_task_event(event: event_pb2.TaskExecutionEvent) -> tuple[identifier_pb2.TaskExecutionIdentifier, datetime]:
    """The checks that need no database; returns the attempt's id and when the event occurred."""
    tid = task_execution_id(event)
    validate_task_execution_id(tid, "event")
    return tid, occurred_at(event.occurred_at, "event.occurred_at")


class TaskEvents(EventKind[event_pb2.TaskExecutionEvent, TaskExecutionModel]):
    """Every attempt of a node's task is its own row, created by the attempt's first event; a repeated phase with a
    higher phase version is progress."""

    policy = TASK_POLICY

    def describe(self, event: event_pb2.TaskExecutionEvent) -> str:
        return describe_task_execution(task_execution_id(event))

    async def load(self, tx: Repositories, event: event_pb2.TaskExecutionEvent, what: str) -> TaskExecutionModel | None:
        await check_event_cluster(tx, event.parent_node_execution_id.execution_id, event.producer_id, what)
        return await tx.task_executions.get(task_execution_id(event), for_update=True)

    async def create(
        self, deps: AdminDeps, tx: Repositories, event: event_pb2.TaskExecutionEvent, at: datetime
    ) -> TaskExecutionModel:
        await get_node_execution_row(tx, event.parent_node_execution_id)
        return await _new_task_execution(deps, tx, task_execution_id(event), at)

    def transition(self, row: TaskExecutionModel, event: event_pb2.TaskExecutionEvent) -> Transition:
        return Transition(TASK.Phase.Value(row.phase), event.phase, row.phase_version, event.phase_version)

    async def apply(
        self, deps: AdminDeps, row: TaskExecutionModel, event: event_pb2.TaskExecutionEvent, at: datetime
    ) -> None:
        await apply_task_event(deps, row, event, at)


TASK_EVENTS = TaskEvents()


async def _new_task_execution(
    deps: AdminDeps, tx: Repositories, tid: identifier_pb2.TaskExecutionIdentifier, at: datetime
) -> TaskExecutionModel:
    row = new_task_execution_row(tid, at, deps.clock())
    await tx.task_executions.add(row)
    return row


async def apply_task_event(
    deps: AdminDeps, row: TaskExecutionModel, event: event_pb2.TaskExecutionEvent, at: datetime
) -> None:
    closure = task_closure_of(row)
    closure.phase = event.phase
    row.phase = TASK.Phase.Name(event.phase)
    row.phase_version = event.phase_version
    row.task_execution_updated_at = at
    row.updated_at = deps.clock()
    if event.phase == TASK.RUNNING and row.started_at is None:
        row.started_at = at
        closure.started_at.CopyFrom(to_timestamp(at))
    await _record_inputs(deps, row, event)
    merge_task_logs(closure.logs, event.logs)
    append_reasons(closure, event, at)
    _record_details(closure, event)
    if attempt_ended(event.phase):
        row.duration = seconds_between(row.started_at, at)
        await _record_result(deps, row, closure, event)
    row.closure = closure.SerializeToString()


async def _record_inputs(deps: AdminDeps, row: TaskExecutionModel, event: event_pb2.TaskExecutionEvent) -> None:
    if event.input_uri:
        row.input_uri = event.input_uri
    elif event.HasField("input_data"):
        row.input_uri = await offload_literal_map(deps, event.input_data, *_attempt_prefix(row), "inputs.pb")


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


async def _record_result(
    deps: AdminDeps,
    row: TaskExecutionModel,
    closure: task_execution_pb2.TaskExecutionClosure,
    event: event_pb2.TaskExecutionEvent,
) -> None:
    result = event.WhichOneof("output_result")
    if result == "output_uri":
        closure.output_uri = event.output_uri
    elif result == "output_data":
        closure.output_uri = await offload_literal_map(deps, event.output_data, *_attempt_prefix(row), "outputs.pb")
    elif result == "error":
        closure.error.CopyFrom(event.error)


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
