"""AdminService RPCs for executions: Create, Relaunch, Recover, Get, Update, GetExecutionData, List, Terminate,
GetExecutionMetrics."""

from __future__ import annotations

from typing import Any

from flyteidl.admin import common_pb2, execution_pb2

from aloft_admin.api.base import RpcMixin
from aloft_admin.managers import execution_metrics, executions, executions_create


class ExecutionRpcs(RpcMixin):
    async def CreateExecution(
        self, request: execution_pb2.ExecutionCreateRequest, context: Any
    ) -> execution_pb2.ExecutionCreateResponse:
        return await executions_create.create_execution(self.deps, request)

    async def RelaunchExecution(
        self, request: execution_pb2.ExecutionRelaunchRequest, context: Any
    ) -> execution_pb2.ExecutionCreateResponse:
        return await executions_create.relaunch_execution(self.deps, request)

    async def RecoverExecution(
        self, request: execution_pb2.ExecutionRecoverRequest, context: Any
    ) -> execution_pb2.ExecutionCreateResponse:
        return await executions_create.recover_execution(self.deps, request)

    async def GetExecution(
        self, request: execution_pb2.WorkflowExecutionGetRequest, context: Any
    ) -> execution_pb2.Execution:
        return await executions.get_execution(self.deps, request)

    async def UpdateExecution(
        self, request: execution_pb2.ExecutionUpdateRequest, context: Any
    ) -> execution_pb2.ExecutionUpdateResponse:
        return await executions.update_execution(self.deps, request)

    async def GetExecutionData(
        self, request: execution_pb2.WorkflowExecutionGetDataRequest, context: Any
    ) -> execution_pb2.WorkflowExecutionGetDataResponse:
        return await executions.get_execution_data(self.deps, request)

    async def ListExecutions(
        self, request: common_pb2.ResourceListRequest, context: Any
    ) -> execution_pb2.ExecutionList:
        return await executions.list_executions(self.deps, request)

    async def TerminateExecution(
        self, request: execution_pb2.ExecutionTerminateRequest, context: Any
    ) -> execution_pb2.ExecutionTerminateResponse:
        return await executions.terminate_execution(self.deps, request)

    async def GetExecutionMetrics(
        self, request: execution_pb2.WorkflowExecutionGetMetricsRequest, context: Any
    ) -> execution_pb2.WorkflowExecutionGetMetricsResponse:
        return await execution_metrics.get_execution_metrics(self.deps, request)
