"""Reads of node and task executions for other managers (the data proxy), answering as their RPCs do."""

from __future__ import annotations

from typing import Protocol

from flyteidl.admin import node_execution_pb2, task_execution_pb2

from aloft_admin.deps import AdminDeps
from aloft_admin.managers import node_executions, task_executions


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

    def __init__(self, deps: AdminDeps) -> None:
        self.deps = deps

    async def get_node_execution(
        self, request: node_execution_pb2.NodeExecutionGetRequest
    ) -> node_execution_pb2.NodeExecution:
        return await node_executions.get_node_execution(self.deps, request)

    async def get_node_execution_data(
        self, request: node_execution_pb2.NodeExecutionGetDataRequest
    ) -> node_execution_pb2.NodeExecutionGetDataResponse:
        return await node_executions.get_node_execution_data(self.deps, request)

    async def list_task_executions(
        self, request: task_execution_pb2.TaskExecutionListRequest
    ) -> task_execution_pb2.TaskExecutionList:
        return await task_executions.list_task_executions(self.deps, request)

    async def get_task_execution_data(
        self, request: task_execution_pb2.TaskExecutionGetDataRequest
    ) -> task_execution_pb2.TaskExecutionGetDataResponse:
        return await task_executions.get_task_execution_data(self.deps, request)
