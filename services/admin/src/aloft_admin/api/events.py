"""AdminService RPCs for events: CreateWorkflowEvent, CreateNodeEvent, CreateTaskEvent."""

from __future__ import annotations

from typing import Any

from flyteidl.admin import event_pb2

from aloft_admin.api.base import RpcMixin
from aloft_admin.managers.events_node import record_node_event
from aloft_admin.managers.events_task import record_task_event
from aloft_admin.managers.events_workflow import record_workflow_event


class EventRpcs(RpcMixin):
    async def CreateWorkflowEvent(
        self, request: event_pb2.WorkflowExecutionEventRequest, context: Any
    ) -> event_pb2.WorkflowExecutionEventResponse:
        return await record_workflow_event(self.deps, request)

    async def CreateNodeEvent(
        self, request: event_pb2.NodeExecutionEventRequest, context: Any
    ) -> event_pb2.NodeExecutionEventResponse:
        return await record_node_event(self.deps, request)

    async def CreateTaskEvent(
        self, request: event_pb2.TaskExecutionEventRequest, context: Any
    ) -> event_pb2.TaskExecutionEventResponse:
        return await record_task_event(self.deps, request)
