"""AdminService RPCs for projects and domains: RegisterProject, UpdateProject, GetProject, ListProjects, GetDomains."""

from __future__ import annotations

from typing import Any

from aloft_auth.enforce import current_identity
from flyteidl.admin import project_pb2

from aloft_admin.api.base import RpcMixin


def only_projects(request: project_pb2.ProjectListRequest, projects: set[str]) -> project_pb2.ProjectListRequest:
    """The same list narrowed to ``projects`` by a filter; an unfiltered list still hides archived projects (as
    flyteadmin does when no filter is given)."""
    narrowed = project_pb2.ProjectListRequest()
    narrowed.CopyFrom(request)
    conditions = [request.filters] if request.filters else ["ne(state,ARCHIVED)"]
    conditions.append(f"value_in(identifier,{';'.join(sorted(projects))})")
    narrowed.filters = "+".join(conditions)
    return narrowed


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
        visible = self._visible_projects()
        if visible is None:
            return await self.managers.projects.list(request)
        if not visible:
            return project_pb2.Projects()
        return await self.managers.projects.list(only_projects(request, visible))

    def _visible_projects(self) -> set[str] | None:
        """The projects the caller may read (None: all, or auth is off)."""
        identity = current_identity.get()
        if self.deps.auth is None or identity is None:
            return None
        return self.deps.auth.guard.authorizer.visible_projects(identity, "projects:read")

    async def GetDomains(self, request: project_pb2.GetDomainRequest, context: Any) -> project_pb2.GetDomainsResponse:
        return self.managers.projects.get_domains()
