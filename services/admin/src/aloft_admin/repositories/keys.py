"""Plain keys the repository Protocols take (no SQL): list parameters and attribute scopes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flyteidl.admin import common_pb2

# Flyte's resource priorities: a more specific scope wins.
DOMAIN_PRIORITY = 1
PROJECT_PRIORITY = 5
PROJECT_DOMAIN_PRIORITY = 10
WORKFLOW_PRIORITY = 100
LAUNCH_PLAN_PRIORITY = 1000


@dataclass(frozen=True)
class ListQuery:
    """The list parameters every List request carries."""

    limit: int
    token: str = ""
    filters: str = ""
    sort_by: common_pb2.Sort | None = None

    @property
    def plain(self) -> bool:
        """No filters and no sort key: a listing that statements built once answer (``filters.paginate_bound``,
        ``PlainReads``)."""
        return not self.filters.strip() and (self.sort_by is None or not self.sort_by.key)

    @classmethod
    def of(cls, request: Any) -> ListQuery:
        sort = request.sort_by if request.HasField("sort_by") else None
        return cls(limit=request.limit, token=request.token, filters=getattr(request, "filters", ""), sort_by=sort)


@dataclass(frozen=True)
class Scope:
    """Where attributes apply; empty strings widen the scope (project-only, domain-only ...)."""

    project: str = ""
    domain: str = ""
    workflow: str = ""
    launch_plan: str = ""
    org: str = ""

    @property
    def priority(self) -> int:
        if self.launch_plan:
            return LAUNCH_PLAN_PRIORITY
        if self.workflow:
            return WORKFLOW_PRIORITY
        if self.project and self.domain:
            return PROJECT_DOMAIN_PRIORITY
        if self.project:
            return PROJECT_PRIORITY
        return DOMAIN_PRIORITY
