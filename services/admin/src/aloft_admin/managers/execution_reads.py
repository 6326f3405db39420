"""Reads of node and task executions for other managers (the data proxy), answering as their RPCs do."""

from __future__ import annotations

from typing import Protocol

from flyteidl.admin import node_execution_pb2, task_execution_pb2

from aloft_admin.managers.node_executions import NodeExecutionManager
from aloft_admin.managers.task_executions import TaskExecutionManager


class ExecutionReads(Protocol):
    async def get_node_execution(
        self, request: node_execution_pb2.NodeExecutionGetRequest
    ) -> node_execution_pb2.NodeExecution: ...

    async def get_node_execution_data(
        self, request: node_execution_pb2.NodeExecutionGetDataRequest
    ) -> node_execution_pb2.NodeExecutionGetDataResponse: ...

    async def list_task_executions(
        self, request: task_execution_pb2.TaskExecutionListRequest
    ) -> task_execution_pb2.TaskExecutionList: ...

    async def get_task_execution_data(
        self, request: task_execution_pb2.TaskExecutionGetDataRequest
    ) -> task_execution_pb2.TaskExecutionGetDataResponse: ...


class ExecutionReadManager:
    """``ExecutionReads`` over admin's own node- and task-execution managers."""

    def __init__(self, node_executions: NodeExecutionManager, task_executions: TaskExecutionManager) -> None:
        self._nodes = node_executions
        self._tasks = task_executions

    async def get_node_execution(
        self, request: node_execution_pb2.NodeExecutionGetRequest
    ) -> node_execution_pb2.NodeExecution:
        return await self._nodes.get(request)

    async def get_node_execution_data(
        self, request: node_execution_pb2.NodeExecutionGetDataRequest
    ) -> node_execution_pb2.NodeExecutionGetDataResponse:
        return await self._nodes.get_data(request)

    async def list_task_executions(
        self, request: task_execution_pb2.TaskExecutionListRequest
    ) -> task_execution_pb2.TaskExecutionList:
        return await self._tasks.list(request)

    async def get_task_execution_data(
        self, request: task_execution_pb2.TaskExecutionGetDataRequest
    ) -> task_execution_pb2.TaskExecutionGetDataResponse:
        return await self._tasks.get_data(request)
