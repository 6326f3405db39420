"""AdminService RPCs for matchable attributes: project, project-domain and workflow attributes, and
ListMatchableAttributes."""

from __future__ import annotations

from typing import Any

from flyteidl.admin import matchable_resource_pb2 as mr
from flyteidl.admin import project_attributes_pb2 as pa
from flyteidl.admin import project_domain_attributes_pb2 as pda
from flyteidl.admin import workflow_attributes_pb2 as wa

from aloft_admin.api.base import RpcMixin
from aloft_admin.managers.attributes import (
    attributes_of,
    project_domain_scope,
    project_scope,
    workflow_scope,
)


class AttributeRpcs(RpcMixin):
    async def UpdateProjectAttributes(
        self, request: pa.ProjectAttributesUpdateRequest, context: Any
    ) -> pa.ProjectAttributesUpdateResponse:
        attrs = attributes_of(request)
        await self.managers.attributes.update(project_scope(attrs.project, attrs.org), attrs.matching_attributes)
        return pa.ProjectAttributesUpdateResponse()

    async def GetProjectAttributes(
        self, request: pa.ProjectAttributesGetRequest, context: Any
    ) -> pa.ProjectAttributesGetResponse:
        scope = project_scope(request.project, request.org)
        found = await self.managers.attributes.get_project(scope, request.resource_type)
        return pa.ProjectAttributesGetResponse(
            attributes=pa.ProjectAttributes(project=request.project, matching_attributes=found, org=request.org)
        )

    async def DeleteProjectAttributes(
        self, request: pa.ProjectAttributesDeleteRequest, context: Any
    ) -> pa.ProjectAttributesDeleteResponse:
        await self.managers.attributes.delete(project_scope(request.project, request.org), request.resource_type)
        return pa.ProjectAttributesDeleteResponse()

    async def UpdateProjectDomainAttributes(
        self, request: pda.ProjectDomainAttributesUpdateRequest, context: Any
    ) -> pda.ProjectDomainAttributesUpdateResponse:
        attrs = attributes_of(request)
        scope = project_domain_scope(attrs.project, attrs.domain, attrs.org)
        await self.managers.attributes.update(scope, attrs.matching_attributes)
        return pda.ProjectDomainAttributesUpdateResponse()

    async def GetProjectDomainAttributes(
        self, request: pda.ProjectDomainAttributesGetRequest, context: Any
    ) -> pda.ProjectDomainAttributesGetResponse:
        scope = project_domain_scope(request.project, request.domain, request.org)
        found = await self.managers.attributes.get(scope, request.resource_type)
        attributes = pda.ProjectDomainAttributes(
            project=request.project, domain=request.domain, matching_attributes=found, org=request.org
        )
        return pda.ProjectDomainAttributesGetResponse(attributes=attributes)

    async def DeleteProjectDomainAttributes(
        self, request: pda.ProjectDomainAttributesDeleteRequest, context: Any
    ) -> pda.ProjectDomainAttributesDeleteResponse:
        scope = project_domain_scope(request.project, request.domain, request.org)
        await self.managers.attributes.delete(scope, request.resource_type)
        return pda.ProjectDomainAttributesDeleteResponse()

    async def UpdateWorkflowAttributes(
        self, request: wa.WorkflowAttributesUpdateRequest, context: Any
    ) -> wa.WorkflowAttributesUpdateResponse:
        attrs = attributes_of(request)
        scope = workflow_scope(attrs.project, attrs.domain, attrs.workflow, attrs.org)
        await self.managers.attributes.update(scope, attrs.matching_attributes)
        return wa.WorkflowAttributesUpdateResponse()

    async def GetWorkflowAttributes(
        self, request: wa.WorkflowAttributesGetRequest, context: Any
    ) -> wa.WorkflowAttributesGetResponse:
        scope = workflow_scope(request.project, request.domain, request.workflow, request.org)
        found = await self.managers.attributes.get(scope, request.resource_type)
        attributes = wa.WorkflowAttributes(
            project=request.project,
            domain=request.domain,
            workflow=request.workflow,
            matching_attributes=found,
            org=request.org,
        )
        return wa.WorkflowAttributesGetResponse(attributes=attributes)

    async def DeleteWorkflowAttributes(
        self, request: wa.WorkflowAttributesDeleteRequest, context: Any
    ) -> wa.WorkflowAttributesDeleteResponse:
        scope = workflow_scope(request.project, request.domain, request.workflow, request.org)
        await self.managers.attributes.delete(scope, request.resource_type)
        return wa.WorkflowAttributesDeleteResponse()

    async def ListMatchableAttributes(
        self, request: mr.ListMatchableAttributesRequest, context: Any
    ) -> mr.ListMatchableAttributesResponse:
        return await self.managers.attributes.list(request)
