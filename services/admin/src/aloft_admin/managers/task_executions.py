"""GetTaskExecution, ListTaskExecutions (every attempt of a node) and GetTaskExecutionData."""

from __future__ import annotations

from collections.abc import Sequence

from flyteidl.admin import task_execution_pb2
from flyteidl.core import identifier_pb2

from aloft_admin.managers.execution_data import ExecutionData
from aloft_admin.managers.executions_lookup import get_node_execution_row, get_task_execution_row
from aloft_admin.repositories.base import RepositoryProvider
from aloft_admin.repositories.keys import ListQuery
from aloft_admin.repositories.models.executions import TaskExecutionModel
from aloft_admin.transformers.task_executions import task_closure_of, to_task_execution
from aloft_admin.validation.execution_identifiers import validate_node_execution_id
from aloft_service.errors import InvalidArgument


class TaskExecutionManager:
    def __init__(self, repos: RepositoryProvider, data: ExecutionData) -> None:
        self._repos = repos
        self._data = data

    async def get(self, request: task_execution_pb2.TaskExecutionGetRequest) -> task_execution_pb2.TaskExecution:
        async with self._repos.transaction(reads=True) as tx:
            return to_task_execution(await get_task_execution_row(tx, request.id))

    async def list(self, request: task_execution_pb2.TaskExecutionListRequest) -> task_execution_pb2.TaskExecutionList:
        """A node's attempts. A node with task executions exists, so the node is looked up only when the page is
        empty (or the query is refused): one statement per call, not two (a UI lists every node's attempts)."""
        nid = request.node_execution_id
        validate_node_execution_id(nid)
        try:
            rows, token = await self._page(nid, ListQuery.of(request))
        except InvalidArgument:
            await self._node_exists(nid)  # NOT_FOUND comes first, as it always did
            raise
        if not rows:
            await self._node_exists(nid)
        return task_execution_pb2.TaskExecutionList(task_executions=[to_task_execution(r) for r in rows], token=token)

    async def _page(
        self, nid: identifier_pb2.NodeExecutionIdentifier, query: ListQuery
    ) -> tuple[Sequence[TaskExecutionModel], str]:
        if query.plain:  # flytekit's and the console's: no session, no ORM
            return await self._repos.reads.task_executions_page(nid, query)
        async with self._repos.transaction(reads=True) as tx:
            return await tx.task_executions.page(nid, query)

    async def _node_exists(self, nid: identifier_pb2.NodeExecutionIdentifier) -> None:
        async with self._repos.transaction(reads=True) as tx:
            await get_node_execution_row(tx, nid)

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
