"""GetNodeExecution, ListNodeExecutions(+ForTask), GetNodeExecutionData and GetDynamicNodeWorkflow."""

from __future__ import annotations

from flyteidl.admin import node_execution_pb2
from flyteidl.core import identifier_pb2

from aloft_admin.managers.execution_data import ExecutionData
from aloft_admin.managers.executions_lookup import (
    get_execution_row,
    get_node_execution_row,
    get_task_execution_row,
    read_execution_row,
)
from aloft_admin.repositories.base import RepositoryProvider
from aloft_admin.repositories.keys import ListQuery
from aloft_admin.repositories.models.executions import NodeExecutionModel
from aloft_admin.transformers.node_executions import node_closure_of, to_node_execution
from aloft_admin.validation.execution_identifiers import describe_node_execution
from aloft_service.errors import NotFound
from aloft_storage import BlobStore


class NodeExecutionManager:
    def __init__(self, repos: RepositoryProvider, blobs: BlobStore, data: ExecutionData) -> None:
        self._repos = repos
        self._blobs = blobs
        self._data = data

    async def get(self, request: node_execution_pb2.NodeExecutionGetRequest) -> node_execution_pb2.NodeExecution:
        async with self._repos.transaction(reads=True) as tx:
            return to_node_execution(await get_node_execution_row(tx, request.id))

    async def list(self, request: node_execution_pb2.NodeExecutionListRequest) -> node_execution_pb2.NodeExecutionList:
        """Top-level nodes of an execution, or the children of ``unique_parent_id``."""
        wid = request.workflow_execution_id
        parent_row_id = await self._parent_row_id(wid, request.unique_parent_id)
        query = ListQuery.of(request)
        if query.plain:  # flytekit's and the console's: no session, no ORM
            rows, token = await self._repos.reads.node_executions_page(wid, query, parent_id=parent_row_id)
            return _node_list(rows, token)
        async with self._repos.transaction(reads=True) as tx:
            top_level = parent_row_id is None
            rows, token = await tx.node_executions.page(wid, query, parent_id=parent_row_id, top_level=top_level)
        return _node_list(rows, token)

    async def _parent_row_id(
        self, wid: identifier_pb2.WorkflowExecutionIdentifier, unique_parent_id: str
    ) -> int | None:
        """The row id of the listed children's parent (None: top level); NOT_FOUND for an unknown execution or
        parent."""
        if not unique_parent_id:
            await read_execution_row(self._repos.reads, wid)
            return None
        async with self._repos.transaction(reads=True) as tx:
            await get_execution_row(tx, wid)
            parent_id = identifier_pb2.NodeExecutionIdentifier(node_id=unique_parent_id, execution_id=wid)
            parent = await tx.node_executions.get(parent_id)
        if parent is None:
            raise NotFound(f"parent node execution {unique_parent_id} not found")
        return parent.id

    async def list_for_task(
        self, request: node_execution_pb2.NodeExecutionForTaskListRequest
    ) -> node_execution_pb2.NodeExecutionList:
        """Nodes launched by a task execution (e.g. array or dynamic children reported with parent_task_metadata)."""
        async with self._repos.transaction() as tx:
            task = await get_task_execution_row(tx, request.task_execution_id)
        wid = request.task_execution_id.node_execution_id.execution_id
        async with self._repos.transaction() as tx:
            rows, token = await tx.node_executions.page(wid, ListQuery.of(request), parent_task_execution_id=task.id)
        return _node_list(rows, token)

    async def get_data(
        self, request: node_execution_pb2.NodeExecutionGetDataRequest
    ) -> node_execution_pb2.NodeExecutionGetDataResponse:
        async with self._repos.transaction() as tx:
            row = await get_node_execution_row(tx, request.id)
        closure = node_closure_of(row)
        inputs, full_inputs = await self._data.literal_map(row.input_uri)
        outputs, full_outputs = await self._data.literal_map(closure.output_uri)
        response = node_execution_pb2.NodeExecutionGetDataResponse(
            inputs=inputs, outputs=outputs, full_inputs=full_inputs, full_outputs=full_outputs
        )
        if row.dynamic_workflow_remote_closure_reference:
            dynamic = await self._blobs.read_proto(
                row.dynamic_workflow_remote_closure_reference, node_execution_pb2.DynamicWorkflowNodeMetadata
            )
            response.dynamic_workflow.CopyFrom(dynamic)
        return response

    async def get_dynamic_workflow(
        self, request: node_execution_pb2.GetDynamicNodeWorkflowRequest
    ) -> node_execution_pb2.DynamicNodeWorkflowResponse:
        async with self._repos.transaction() as tx:
            row = await get_node_execution_row(tx, request.id)
        if not row.dynamic_workflow_remote_closure_reference:
            raise NotFound(f"{describe_node_execution(request.id)} does not contain a dynamic workflow")
        dynamic = await self._blobs.read_proto(
            row.dynamic_workflow_remote_closure_reference, node_execution_pb2.DynamicWorkflowNodeMetadata
        )
        return node_execution_pb2.DynamicNodeWorkflowResponse(compiled_workflow=dynamic.compiled_workflow)


def _node_list(rows: list[NodeExecutionModel], token: str) -> node_execution_pb2.NodeExecutionList:
    return node_execution_pb2.NodeExecutionList(node_executions=[to_node_execution(r) for r in rows], token=token)
