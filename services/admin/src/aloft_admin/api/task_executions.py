"""AdminService RPCs for task executions: GetTaskExecution, ListTaskExecutions, GetTaskExecutionData."""

from __future__ import annotations

from typing import Any

from flyteidl.admin import task_execution_pb2

from aloft_admin.api.base import RpcMixin


class TaskExecutionRpcs(RpcMixin):
    async def GetTaskExecution(
        self, request: task_execution_pb2.TaskExecutionGetRequest, context: Any
    ) -> task_execution_pb2.TaskExecution:
        return await self.managers.task_executions.get(request)

    async def ListTaskExecutions(
        self, request: task_execution_pb2.TaskExecutionListRequest, context: Any
    ) -> task_execution_pb2.TaskExecutionList:
        return await self.managers.task_executions.list(request)

    async def GetTaskExecutionData(
        self, request: task_execution_pb2.TaskExecutionGetDataRequest, context: Any
    ) -> task_execution_pb2.TaskExecutionGetDataResponse:
        return await self.managers.task_executions.get_data(request)
