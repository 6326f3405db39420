"""AdminService RPCs for task executions: GetTaskExecution, ListTaskExecutions, GetTaskExecutionData."""

from __future__ import annotations

from typing import Any

from flyteidl.admin import task_execution_pb2

from aloft_admin.api.base import RpcMixin
from aloft_admin.managers import task_executions


class TaskExecutionRpcs(RpcMixin):
    async def GetTaskExecution(
        self, request: task_execution_pb2.TaskExecutionGetRequest, context: Any
    ) -> task_execution_pb2.TaskExecution:
        return await task_executions.get_task_execution(self.deps, request)

    async def ListTaskExecutions(
        self, request: task_execution_pb2.TaskExecutionListRequest, context: Any
    ) -> task_execution_pb2.TaskExecutionList:
        return await task_executions.list_task_executions(self.deps, request)

    async def GetTaskExecutionData(
        self, request: task_execution_pb2.TaskExecutionGetDataRequest, context: Any
    ) -> task_execution_pb2.TaskExecutionGetDataResponse:
        return await task_executions.get_task_execution_data(self.deps, request)
