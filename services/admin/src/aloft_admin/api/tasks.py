"""AdminService RPCs for tasks: CreateTask, GetTask, ListTaskIds, ListTasks."""

from __future__ import annotations

from typing import Any

from flyteidl.admin import common_pb2, task_pb2

from aloft_admin.api.base import RpcMixin


class TaskRpcs(RpcMixin):
    async def CreateTask(self, request: task_pb2.TaskCreateRequest, context: Any) -> task_pb2.TaskCreateResponse:
        return await self.managers.tasks.create(request)

    async def GetTask(self, request: common_pb2.ObjectGetRequest, context: Any) -> task_pb2.Task:
        return await self.managers.tasks.get(request)

    async def ListTaskIds(
        self, request: common_pb2.NamedEntityIdentifierListRequest, context: Any
    ) -> common_pb2.NamedEntityIdentifierList:
        return await self.managers.tasks.list_ids(request)

    async def ListTasks(self, request: common_pb2.ResourceListRequest, context: Any) -> task_pb2.TaskList:
        return await self.managers.tasks.list(request)
