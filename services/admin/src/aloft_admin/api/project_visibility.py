"""ListProjects answers only the projects the caller may read (``projects:read`` on them, from the rbac roles).

Wrapped around the servicer's ListProjects once at start-up (server.py), like the configuration audit: the
ProjectManager lists what it is asked, the wrapper narrows the request by a filter on the caller's projects.
"""

from __future__ import annotations

import functools
from typing import Any

from aloft_auth.enforce import current_identity
from aloft_auth.rbac import Authorizer
from flyteidl.admin import project_pb2


def only_projects(request: project_pb2.ProjectListRequest, projects: set[str]) -> project_pb2.ProjectListRequest:
    """The same list narrowed to ``projects`` by a filter; an unfiltered list still hides archived projects (as
    flyteadmin does when no filter is given)."""
    narrowed = project_pb2.ProjectListRequest()
    narrowed.CopyFrom(request)
    conditions = [request.filters] if request.filters else ["ne(state,ARCHIVED)"]
    conditions.append(f"value_in(identifier,{';'.join(sorted(projects))})")
    narrowed.filters = "+".join(conditions)
    return narrowed


def restrict_project_listing(servicer: Any, authorizer: Authorizer) -> None:
    list_projects = servicer.ListProjects

    @functools.wraps(list_projects)
    async def visible_only(request: project_pb2.ProjectListRequest, context: Any) -> project_pb2.Projects:
        identity = current_identity.get()
        visible = authorizer.visible_projects(identity, "projects:read") if identity is not None else None
        if visible is None:
            return await list_projects(request, context)
        if not visible:
            return project_pb2.Projects()
        return await list_projects(only_projects(request, visible), context)

    servicer.ListProjects = visible_only
