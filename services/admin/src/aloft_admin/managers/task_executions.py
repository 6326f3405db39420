"""GetTaskExecution, ListTaskExecutions (every attempt of a node) and GetTaskExecutionData."""

from __future__ import annotations

from flyteidl.admin import task_execution_pb2
from flyteidl.core import execution_pb2 as core

from aloft_admin.deps import AdminDeps
from aloft_admin.managers.execution_data import literal_map_data
from aloft_admin.managers.executions_lookup import get_node_execution_row, get_task_execution_row
from aloft_admin.repositories.filters import FieldMap, FilterField, apply_sort, paginate, parse_filters, where_all
from aloft_admin.repositories.models.executions import TaskExecutionModel
from aloft_admin.repositories.sql import executions as repo
from aloft_admin.transformers.task_executions import task_closure_of, to_task_execution

TASK = core.TaskExecution


def _phase(value: str) -> str:
    text = value.strip().upper()
    if text.isdigit():
        return str(TASK.Phase.Name(int(text)))
    TASK.Phase.Value(text)
    return text


TASK_FIELDS: FieldMap = {
    "phase": FilterField(TaskExecutionModel.phase, _phase),
    "retry_attempt": TaskExecutionModel.retry_attempt,
    "task.project": TaskExecutionModel.task_project,
    "task.domain": TaskExecutionModel.task_domain,
    "task.name": TaskExecutionModel.task_name,
    "task.version": TaskExecutionModel.task_version,
    "created_at": TaskExecutionModel.task_execution_created_at,
    "updated_at": TaskExecutionModel.task_execution_updated_at,
    "started_at": TaskExecutionModel.started_at,
    "duration": TaskExecutionModel.duration,
}


async def get_task_execution(
    deps: AdminDeps, request: task_execution_pb2.TaskExecutionGetRequest
) -> task_execution_pb2.TaskExecution:
    async with deps.db.session() as session:
        return to_task_execution(await get_task_execution_row(session, request.id))


async def list_task_executions(
    deps: AdminDeps, request: task_execution_pb2.TaskExecutionListRequest
) -> task_execution_pb2.TaskExecutionList:
    stmt = where_all(repo.task_executions_of(request.node_execution_id), parse_filters(request.filters, TASK_FIELDS))
    sort = request.sort_by if request.HasField("sort_by") else None
    stmt = apply_sort(stmt, sort, TASK_FIELDS, default=(TaskExecutionModel.retry_attempt.asc(), TaskExecutionModel.id))
    async with deps.db.session() as session:
        await get_node_execution_row(session, request.node_execution_id)
        rows, token = await paginate(session, stmt, request.limit, request.token)
    return task_execution_pb2.TaskExecutionList(task_executions=[to_task_execution(r) for r in rows], token=token)


async def get_task_execution_data(
    deps: AdminDeps, request: task_execution_pb2.TaskExecutionGetDataRequest
) -> task_execution_pb2.TaskExecutionGetDataResponse:
    async with deps.db.session() as session:
        row = await get_task_execution_row(session, request.id)
    inputs, full_inputs = await literal_map_data(deps, row.input_uri)
    outputs, full_outputs = await literal_map_data(deps, task_closure_of(row).output_uri)
    return task_execution_pb2.TaskExecutionGetDataResponse(
        inputs=inputs, outputs=outputs, full_inputs=full_inputs, full_outputs=full_outputs
    )
