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
from sqlalchemy.ext.asyncio import AsyncSession

from aloft_admin.deps import AdminDeps
from aloft_admin.managers.events_common import (
    check_event_cluster,
    check_output_size,
    occurred_at,
    offload_literal_map,
    raise_if_refused,
    retry_on_concurrent_create,
    seconds_between,
)
from aloft_admin.managers.executions_lookup import get_node_execution_row
from aloft_admin.managers.task_metadata import merge_metadata, merge_task_logs
from aloft_admin.repositories.models.executions import TaskExecutionModel
from aloft_admin.repositories.sql import executions as repo
from aloft_admin.transformers.task_executions import task_closure_of
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
    tid, at = checked_task_event(event)
    # A concurrent first event for the same attempt may win the insert: retry once, as an update.
    return await retry_on_concurrent_create(lambda: _record(deps, event, tid, at))


def checked_task_event(event: event_pb2.TaskExecutionEvent) -> tuple[identifier_pb2.TaskExecutionIdentifier, datetime]:
    """The checks that need no database; returns the attempt's id and when the event occurred."""
    tid = task_execution_id(event)
    validate_task_execution_id(tid, "event")
    return tid, occurred_at(event.occurred_at, "event.occurred_at")


async def _record(
    deps: AdminDeps, event: event_pb2.TaskExecutionEvent, tid: identifier_pb2.TaskExecutionIdentifier, at: datetime
) -> admin_event_pb2.TaskExecutionEventResponse:
    async with deps.db.session() as session:
        await record_task_event_in(deps, session, event, tid, at)
    return admin_event_pb2.TaskExecutionEventResponse()


async def record_task_event_in(
    deps: AdminDeps,
    session: AsyncSession,
    event: event_pb2.TaskExecutionEvent,
    tid: identifier_pb2.TaskExecutionIdentifier,
    at: datetime,
) -> None:
    """Every rule of a task event, inside the caller's transaction (a single event's, or a batch's)."""
    check_output_size(deps, event)
    what = describe_task_execution(tid)
    await check_event_cluster(session, tid.node_execution_id.execution_id, event.producer_id, what)
    row = await repo.find_task_execution(session, tid, for_update=True)
    if row is None:
        await get_node_execution_row(session, event.parent_node_execution_id)
        row = _new_task_execution(deps, session, tid, at)
    else:
        transition = Transition(TASK.Phase.Value(row.phase), event.phase, row.phase_version, event.phase_version)
        raise_if_refused(TASK_POLICY.evaluate(transition), row.phase, what)
    await apply_task_event(deps, row, event, at)
    await repo.flush_checked(session)


def _new_task_execution(
    deps: AdminDeps, session: AsyncSession, tid: identifier_pb2.TaskExecutionIdentifier, at: datetime
) -> TaskExecutionModel:
    wid, task, now = tid.node_execution_id.execution_id, tid.task_id, deps.clock()
    row = TaskExecutionModel(
        execution_org=wid.org,
        execution_project=wid.project,
        execution_domain=wid.domain,
        execution_name=wid.name,
        node_id=tid.node_execution_id.node_id,
        task_project=task.project,
        task_domain=task.domain,
        task_name=task.name,
        task_version=task.version,
        task_org=task.org,
        retry_attempt=tid.retry_attempt,
        phase=TASK.Phase.Name(TASK.UNDEFINED),
        closure=b"",
        task_execution_created_at=at,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
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
