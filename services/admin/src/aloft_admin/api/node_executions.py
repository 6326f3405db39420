"""AdminService RPCs for node executions: Get, GetDynamicNodeWorkflow, List, ListForTask, GetNodeExecutionData."""

from __future__ import annotations

from typing import Any

from flyteidl.admin import node_execution_pb2

from aloft_admin.api.base import RpcMixin
from aloft_admin.managers import node_executions


class NodeExecutionRpcs(RpcMixin):
    async def GetNodeExecution(
        self, request: node_execution_pb2.NodeExecutionGetRequest, context: Any
    ) -> node_execution_pb2.NodeExecution:
        return await node_executions.get_node_execution(self.deps, request)

    async def GetDynamicNodeWorkflow(
        self, request: node_execution_pb2.GetDynamicNodeWorkflowRequest, context: Any
    ) -> node_execution_pb2.DynamicNodeWorkflowResponse:
        return await node_executions.get_dynamic_node_workflow(self.deps, request)

    async def ListNodeExecutions(
        self, request: node_execution_pb2.NodeExecutionListRequest, context: Any
    ) -> node_execution_pb2.NodeExecutionList:
        return await node_executions.list_node_executions(self.deps, request)

    async def ListNodeExecutionsForTask(
        self, request: node_execution_pb2.NodeExecutionForTaskListRequest, context: Any
    ) -> node_execution_pb2.NodeExecutionList:
        return await node_executions.list_node_executions_for_task(self.deps, request)

    async def GetNodeExecutionData(
        self, request: node_execution_pb2.NodeExecutionGetDataRequest, context: Any
    ) -> node_execution_pb2.NodeExecutionGetDataResponse:
        return await node_executions.get_node_execution_data(self.deps, request)
