"""AdminService RPCs for projects and domains: RegisterProject, UpdateProject, GetProject, ListProjects, GetDomains."""

from __future__ import annotations

from aloft_admin.api.base import RpcMixin


class ProjectRpcs(RpcMixin):
    pass
