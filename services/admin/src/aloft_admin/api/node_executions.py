"""AdminService RPCs for node executions: Get, GetDynamicNodeWorkflow, List, ListForTask, GetNodeExecutionData."""

from __future__ import annotations

from typing import Any

from flyteidl.admin import node_execution_pb2

from aloft_admin.api.base import RpcMixin


class NodeExecutionRpcs(RpcMixin):
    async def GetNodeExecution(
        self, request: node_execution_pb2.NodeExecutionGetRequest, context: Any
    ) -> node_execution_pb2.NodeExecution:
        return await self.managers.node_executions.get(request)

    async def GetDynamicNodeWorkflow(
        self, request: node_execution_pb2.GetDynamicNodeWorkflowRequest, context: Any
    ) -> node_execution_pb2.DynamicNodeWorkflowResponse:
        return await self.managers.node_executions.get_dynamic_workflow(request)

    async def ListNodeExecutions(
        self, request: node_execution_pb2.NodeExecutionListRequest, context: Any
    ) -> node_execution_pb2.NodeExecutionList:
        return await self.managers.node_executions.list(request)

    async def ListNodeExecutionsForTask(
        self, request: node_execution_pb2.NodeExecutionForTaskListRequest, context: Any
    ) -> node_execution_pb2.NodeExecutionList:
        return await self.managers.node_executions.list_for_task(request)

    async def GetNodeExecutionData(
        self, request: node_execution_pb2.NodeExecutionGetDataRequest, context: Any
    ) -> node_execution_pb2.NodeExecutionGetDataResponse:
        return await self.managers.node_executions.get_data(request)
