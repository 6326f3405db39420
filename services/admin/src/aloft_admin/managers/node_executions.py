"""GetNodeExecution, ListNodeExecutions(+ForTask), GetNodeExecutionData and GetDynamicNodeWorkflow."""

from __future__ import annotations

from typing import Any

from flyteidl.admin import node_execution_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.core import identifier_pb2
from sqlalchemy import Select

from aloft_admin.deps import AdminDeps
from aloft_admin.managers.execution_data import literal_map_data
from aloft_admin.managers.executions_lookup import get_execution_row, get_node_execution_row, get_task_execution_row
from aloft_admin.repositories.filters import FieldMap, FilterField, apply_sort, paginate, parse_filters, where_all
from aloft_admin.repositories.models.executions import NodeExecutionModel
from aloft_admin.repositories.sql import executions as repo
from aloft_admin.transformers.node_executions import node_closure_of, to_node_execution
from aloft_admin.validation.execution_identifiers import describe_node_execution
from aloft_service.errors import NotFound

NODE = core.NodeExecution


def _phase(value: str) -> str:
    text = value.strip().upper()
    if text.isdigit():
        return str(NODE.Phase.Name(int(text)))
    NODE.Phase.Value(text)  # ValueError for an unknown phase name
    return text


NODE_FIELDS: FieldMap = {
    "node_id": NodeExecutionModel.node_id,
    "phase": FilterField(NodeExecutionModel.phase, _phase),
    "created_at": NodeExecutionModel.node_execution_created_at,
    "updated_at": NodeExecutionModel.node_execution_updated_at,
    "started_at": NodeExecutionModel.started_at,
    "duration": NodeExecutionModel.duration,
    "error_kind": NodeExecutionModel.error_kind,
    "error_code": NodeExecutionModel.error_code,
    "cache_status": NodeExecutionModel.cache_status,
}


async def get_node_execution(
    deps: AdminDeps, request: node_execution_pb2.NodeExecutionGetRequest
) -> node_execution_pb2.NodeExecution:
    async with deps.db.session() as session:
        return to_node_execution(await get_node_execution_row(session, request.id))


async def _page(deps: AdminDeps, stmt: Select[Any], request: Any) -> node_execution_pb2.NodeExecutionList:
    stmt = where_all(stmt, parse_filters(request.filters, NODE_FIELDS))
    sort = request.sort_by if request.HasField("sort_by") else None
    stmt = apply_sort(stmt, sort, NODE_FIELDS, default=(NodeExecutionModel.id.asc(),))
    async with deps.db.session() as session:
        rows, token = await paginate(session, stmt, request.limit, request.token)
    return node_execution_pb2.NodeExecutionList(node_executions=[to_node_execution(r) for r in rows], token=token)


async def list_node_executions(
    deps: AdminDeps, request: node_execution_pb2.NodeExecutionListRequest
) -> node_execution_pb2.NodeExecutionList:
    """Top-level nodes of an execution, or the children of ``unique_parent_id``."""
    wid = request.workflow_execution_id
    async with deps.db.session() as session:
        await get_execution_row(session, wid)
        stmt = repo.node_executions_of(wid)
        if request.unique_parent_id:
            parent_id = identifier_pb2.NodeExecutionIdentifier(node_id=request.unique_parent_id, execution_id=wid)
            parent = await repo.find_node_execution(session, parent_id)
            if parent is None:
                raise NotFound(f"parent node execution {request.unique_parent_id} not found")
            stmt = stmt.where(NodeExecutionModel.parent_id == parent.id)
        else:
            stmt = stmt.where(NodeExecutionModel.parent_id.is_(None))
    return await _page(deps, stmt, request)


async def list_node_executions_for_task(
    deps: AdminDeps, request: node_execution_pb2.NodeExecutionForTaskListRequest
) -> node_execution_pb2.NodeExecutionList:
    """Nodes launched by a task execution (e.g. array or dynamic children reported with parent_task_metadata)."""
    async with deps.db.session() as session:
        task = await get_task_execution_row(session, request.task_execution_id)
    stmt = repo.node_executions_of(request.task_execution_id.node_execution_id.execution_id).where(
        NodeExecutionModel.parent_task_execution_id == task.id
    )
    return await _page(deps, stmt, request)


async def get_node_execution_data(
    deps: AdminDeps, request: node_execution_pb2.NodeExecutionGetDataRequest
) -> node_execution_pb2.NodeExecutionGetDataResponse:
    async with deps.db.session() as session:
        row = await get_node_execution_row(session, request.id)
    closure = node_closure_of(row)
    inputs, full_inputs = await literal_map_data(deps, row.input_uri)
    outputs, full_outputs = await literal_map_data(deps, closure.output_uri)
    response = node_execution_pb2.NodeExecutionGetDataResponse(
        inputs=inputs, outputs=outputs, full_inputs=full_inputs, full_outputs=full_outputs
    )
    if row.dynamic_workflow_remote_closure_reference:
        dynamic = await deps.blobs.read_proto(
            row.dynamic_workflow_remote_closure_reference, node_execution_pb2.DynamicWorkflowNodeMetadata
        )
        response.dynamic_workflow.CopyFrom(dynamic)
    return response


async def get_dynamic_node_workflow(
    deps: AdminDeps, request: node_execution_pb2.GetDynamicNodeWorkflowRequest
) -> node_execution_pb2.DynamicNodeWorkflowResponse:
    async with deps.db.session() as session:
        row = await get_node_execution_row(session, request.id)
    if not row.dynamic_workflow_remote_closure_reference:
        raise NotFound(f"{describe_node_execution(request.id)} does not contain a dynamic workflow")
    dynamic = await deps.blobs.read_proto(
        row.dynamic_workflow_remote_closure_reference, node_execution_pb2.DynamicWorkflowNodeMetadata
    )
    return node_execution_pb2.DynamicNodeWorkflowResponse(compiled_workflow=dynamic.compiled_workflow)
