"""AdminService RPCs for tasks: CreateTask, GetTask, ListTaskIds, ListTasks."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from flyteidl.admin import common_pb2, task_pb2

from aloft_admin.api.base import RpcMixin
from aloft_admin.managers.tasks import TaskManager


class TaskRpcs(RpcMixin):
    @cached_property
    def task_manager(self) -> TaskManager:
        return TaskManager(self.deps)

    async def CreateTask(self, request: task_pb2.TaskCreateRequest, context: Any) -> task_pb2.TaskCreateResponse:
        return await self.task_manager.create(request)

    async def GetTask(self, request: common_pb2.ObjectGetRequest, context: Any) -> task_pb2.Task:
        return await self.task_manager.get(request)

    async def ListTaskIds(
        self, request: common_pb2.NamedEntityIdentifierListRequest, context: Any
    ) -> common_pb2.NamedEntityIdentifierList:
        return await self.task_manager.list_ids(request)

    async def ListTasks(self, request: common_pb2.ResourceListRequest, context: Any) -> task_pb2.TaskList:
        return await self.task_manager.list(request)
