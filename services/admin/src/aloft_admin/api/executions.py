"""AdminService RPCs for executions: Create, Relaunch, Recover, Get, Update, GetExecutionData, List, Terminate,
GetExecutionMetrics."""

from __future__ import annotations

from typing import Any

from flyteidl.admin import common_pb2, execution_pb2

from aloft_admin.api.base import RpcMixin


class ExecutionRpcs(RpcMixin):
    async def CreateExecution(
        self, request: execution_pb2.ExecutionCreateRequest, context: Any
    ) -> execution_pb2.ExecutionCreateResponse:
        return await self.managers.execution_creates.create(request)

    async def RelaunchExecution(
        self, request: execution_pb2.ExecutionRelaunchRequest, context: Any
    ) -> execution_pb2.ExecutionCreateResponse:
        return await self.managers.execution_creates.relaunch(request)

    async def RecoverExecution(
        self, request: execution_pb2.ExecutionRecoverRequest, context: Any
    ) -> execution_pb2.ExecutionCreateResponse:
        return await self.managers.execution_creates.recover(request)

    async def GetExecution(
        self, request: execution_pb2.WorkflowExecutionGetRequest, context: Any
    ) -> execution_pb2.Execution:
        return await self.managers.executions.get(request)

    async def UpdateExecution(
        self, request: execution_pb2.ExecutionUpdateRequest, context: Any
    ) -> execution_pb2.ExecutionUpdateResponse:
        return await self.managers.executions.update(request)

    async def GetExecutionData(
        self, request: execution_pb2.WorkflowExecutionGetDataRequest, context: Any
    ) -> execution_pb2.WorkflowExecutionGetDataResponse:
        return await self.managers.executions.get_data(request)

    async def ListExecutions(
        self, request: common_pb2.ResourceListRequest, context: Any
    ) -> execution_pb2.ExecutionList:
        return await self.managers.executions.list(request)

    async def TerminateExecution(
        self, request: execution_pb2.ExecutionTerminateRequest, context: Any
    ) -> execution_pb2.ExecutionTerminateResponse:
        return await self.managers.executions.terminate(request)

    async def GetExecutionMetrics(
        self, request: execution_pb2.WorkflowExecutionGetMetricsRequest, context: Any
    ) -> execution_pb2.WorkflowExecutionGetMetricsResponse:
        return await self.managers.execution_metrics.get(request)
