"""GetTaskExecution, ListTaskExecutions (every attempt of a node) and GetTaskExecutionData."""

from __future__ import annotations

from flyteidl.admin import task_execution_pb2

from aloft_admin.managers.execution_data import ExecutionData
from aloft_admin.managers.executions_lookup import get_node_execution_row, get_task_execution_row
from aloft_admin.repositories.base import RepositoryProvider
from aloft_admin.repositories.keys import ListQuery
from aloft_admin.transformers.task_executions import task_closure_of, to_task_execution


class TaskExecutionManager:
    def __init__(self, repos: RepositoryProvider, data: ExecutionData) -> None:
        self._repos = repos
        self._data = data

    async def get(self, request: task_execution_pb2.TaskExecutionGetRequest) -> task_execution_pb2.TaskExecution:
        async with self._repos.transaction() as tx:
            return to_task_execution(await get_task_execution_row(tx, request.id))

    async def list(self, request: task_execution_pb2.TaskExecutionListRequest) -> task_execution_pb2.TaskExecutionList:
        async with self._repos.transaction() as tx:
            await get_node_execution_row(tx, request.node_execution_id)
            rows, token = await tx.task_executions.page(request.node_execution_id, ListQuery.of(request))
        return task_execution_pb2.TaskExecutionList(task_executions=[to_task_execution(r) for r in rows], token=token)

    async def get_data(
        self, request: task_execution_pb2.TaskExecutionGetDataRequest
    ) -> task_execution_pb2.TaskExecutionGetDataResponse:
        async with self._repos.transaction() as tx:
            row = await get_task_execution_row(tx, request.id)
        inputs, full_inputs = await self._data.literal_map(row.input_uri)
        outputs, full_outputs = await self._data.literal_map(task_closure_of(row).output_uri)
        return task_execution_pb2.TaskExecutionGetDataResponse(
            inputs=inputs, outputs=outputs, full_inputs=full_inputs, full_outputs=full_outputs
        )
