"""AdminService RPCs for events: CreateWorkflowEvent, CreateNodeEvent, CreateTaskEvent."""

from __future__ import annotations

from typing import Any

from flyteidl.admin import event_pb2

from aloft_admin.api.base import RpcMixin


class EventRpcs(RpcMixin):
    async def CreateWorkflowEvent(
        self, request: event_pb2.WorkflowExecutionEventRequest, context: Any
    ) -> event_pb2.WorkflowExecutionEventResponse:
        return await self.managers.workflow_events.record(request)

    async def CreateNodeEvent(
        self, request: event_pb2.NodeExecutionEventRequest, context: Any
    ) -> event_pb2.NodeExecutionEventResponse:
        return await self.managers.node_events.record(request)

    async def CreateTaskEvent(
        self, request: event_pb2.TaskExecutionEventRequest, context: Any
    ) -> event_pb2.TaskExecutionEventResponse:
        return await self.managers.task_events.record(request)
