"""Pure conversions between task-execution rows and flyteidl ``admin.TaskExecution`` messages."""

from __future__ import annotations

from datetime import datetime

from flyteidl.admin import task_execution_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.core import identifier_pb2

from aloft_admin.repositories.models.executions import TaskExecutionModel
from aloft_admin.transformers.executions import execution_columns
from aloft_admin.transformers.node_executions import node_execution_identifier
from aloft_admin.transformers.timestamps import fold_times


def new_task_execution_row(
    tid: identifier_pb2.TaskExecutionIdentifier, occurred_at: datetime, now: datetime
) -> TaskExecutionModel:
    """The row an attempt's first event creates: UNDEFINED until the event itself is applied."""
    task = tid.task_id
    return TaskExecutionModel(
        **execution_columns(tid.node_execution_id.execution_id),
        node_id=tid.node_execution_id.node_id,
        task_project=task.project,
        task_domain=task.domain,
        task_name=task.name,
        task_version=task.version,
        task_org=task.org,
        retry_attempt=tid.retry_attempt,
        phase=core.TaskExecution.Phase.Name(core.TaskExecution.UNDEFINED),
        closure=b"",
        task_execution_created_at=occurred_at,
        created_at=now,
        updated_at=now,
    )


def task_execution_identifier(row: TaskExecutionModel) -> identifier_pb2.TaskExecutionIdentifier:
    return identifier_pb2.TaskExecutionIdentifier(
        task_id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK,
            project=row.task_project,
            domain=row.task_domain,
            name=row.task_name,
            version=row.task_version,
            org=row.task_org,
        ),
        node_execution_id=node_execution_identifier(row),
        retry_attempt=row.retry_attempt,
    )


def task_closure_of(row: TaskExecutionModel) -> task_execution_pb2.TaskExecutionClosure:
    return task_execution_pb2.TaskExecutionClosure.FromString(row.closure)


def to_task_execution(row: TaskExecutionModel) -> task_execution_pb2.TaskExecution:
    closure = task_closure_of(row)
    created_at, updated_at = (
        row.task_execution_created_at or row.created_at,
        row.task_execution_updated_at or row.updated_at,
    )
    fold_times(closure, created_at, updated_at, row.started_at, row.duration)
    return task_execution_pb2.TaskExecution(
        id=task_execution_identifier(row), input_uri=row.input_uri, closure=closure, is_parent=row.is_parent
    )
