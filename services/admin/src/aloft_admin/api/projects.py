"""AdminService RPCs for projects and domains: RegisterProject, UpdateProject, GetProject, ListProjects, GetDomains."""

from __future__ import annotations

from typing import Any

from flyteidl.admin import project_pb2

from aloft_admin.api.base import RpcMixin


class ProjectRpcs(RpcMixin):
    async def RegisterProject(
        self, request: project_pb2.ProjectRegisterRequest, context: Any
    ) -> project_pb2.ProjectRegisterResponse:
        return await self.managers.projects.register(request)

    async def UpdateProject(self, request: project_pb2.Project, context: Any) -> project_pb2.ProjectUpdateResponse:
        return await self.managers.projects.update(request)

    async def GetProject(self, request: project_pb2.ProjectGetRequest, context: Any) -> project_pb2.Project:
        return await self.managers.projects.get(request)

    async def ListProjects(self, request: project_pb2.ProjectListRequest, context: Any) -> project_pb2.Projects:
        return await self.managers.projects.list(request)

    async def GetDomains(self, request: project_pb2.GetDomainRequest, context: Any) -> project_pb2.GetDomainsResponse:
        return self.managers.projects.get_domains()
