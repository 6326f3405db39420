"""AdminService RPCs for projects and domains: RegisterProject, UpdateProject, GetProject, ListProjects, GetDomains."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from flyteidl.admin import project_pb2

from aloft_admin.api.base import RpcMixin
from aloft_admin.managers.projects import ProjectManager


class ProjectRpcs(RpcMixin):
    @cached_property
    def project_manager(self) -> ProjectManager:
        return ProjectManager(self.deps)

    async def RegisterProject(
        self, request: project_pb2.ProjectRegisterRequest, context: Any
    ) -> project_pb2.ProjectRegisterResponse:
        return await self.project_manager.register(request)

    async def UpdateProject(self, request: project_pb2.Project, context: Any) -> project_pb2.ProjectUpdateResponse:
        return await self.project_manager.update(request)

    async def GetProject(self, request: project_pb2.ProjectGetRequest, context: Any) -> project_pb2.Project:
        return await self.project_manager.get(request)

    async def ListProjects(self, request: project_pb2.ProjectListRequest, context: Any) -> project_pb2.Projects:
        return await self.project_manager.list(request)

    async def GetDomains(self, request: project_pb2.GetDomainRequest, context: Any) -> project_pb2.GetDomainsResponse:
        return self.project_manager.get_domains()
