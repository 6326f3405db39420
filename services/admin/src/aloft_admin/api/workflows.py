"""AdminService RPCs for workflows: CreateWorkflow, GetWorkflow, ListWorkflowIds, ListWorkflows."""

from __future__ import annotations

from typing import Any

from flyteidl.admin import common_pb2, workflow_pb2

from aloft_admin.api.base import RpcMixin


class WorkflowRpcs(RpcMixin):
    async def CreateWorkflow(
        self, request: workflow_pb2.WorkflowCreateRequest, context: Any
    ) -> workflow_pb2.WorkflowCreateResponse:
        return await self.managers.workflows.create(request)

    async def GetWorkflow(self, request: common_pb2.ObjectGetRequest, context: Any) -> workflow_pb2.Workflow:
        return await self.managers.workflows.get(request)

    async def ListWorkflowIds(
        self, request: common_pb2.NamedEntityIdentifierListRequest, context: Any
    ) -> common_pb2.NamedEntityIdentifierList:
        return await self.managers.workflows.list_ids(request)

    async def ListWorkflows(self, request: common_pb2.ResourceListRequest, context: Any) -> workflow_pb2.WorkflowList:
        return await self.managers.workflows.list(request)
