"""A plugin's ResourceManager pool: one token per running attempt, across every propeller.

The token is the attempt's unique id, so asking again for a token the attempt holds is granted again (the
allocation is idempotent) and a crash between allocating and launching only means the next ``handle`` finds its
token already held. ``NamespaceScopeResourceConstraint`` caps what one project+domain (a namespace) holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from redis.exceptions import RedisError

from aloft_propeller.config import ResourceConstraintsConfig
from aloft_propeller.plugins.base import Phase, PhaseInfo, TaskExecutionContext
from aloft_propeller.resourcemanager.base import AllocationStatus, ResourceConstraints


class TokenPool:
    def __init__(self, resource: str, quota: int, constraints: ResourceConstraintsConfig) -> None:
        self.resource = resource
        self._quota = quota
        project, namespace = constraints.ProjectScopeResourceConstraint, constraints.NamespaceScopeResourceConstraint
        self._constraints = ResourceConstraints(
            project_scope=project.Value if project else None,
            namespace_scope=namespace.Value if namespace else None,
        )

    def quotas(self) -> Mapping[str, int]:
        return {self.resource: self._quota} if self._quota > 0 else {}

    def _enabled(self, ctx: TaskExecutionContext) -> bool:
        return self._quota > 0 and ctx.resources is not None

    async def acquire(self, ctx: TaskExecutionContext) -> PhaseInfo | None:
        """None when the attempt holds a token (or no pool is configured), else why it must wait."""
        if not self._enabled(ctx) or ctx.resources is None:
            return None
        try:
            status = await ctx.resources.allocate(self.resource, ctx.unique_id, self._constraints)
        except RedisError as exc:  # the pool is unreachable: wait rather than run unthrottled
            return self._waiting(f"waiting for the resource manager (Redis unavailable: {exc})")
        if status == AllocationStatus.GRANTED:
            return None
        if status == AllocationStatus.NAMESPACE_QUOTA_EXCEEDED:
            execution = ctx.task_execution_id.node_execution_id.execution_id
            return self._waiting(
                f"waiting for a [{self.resource}] token: the quota of project [{execution.project}] "
                f"(or of its domain [{execution.domain}]) is used up"
            )
        return self._waiting(f"waiting for a [{self.resource}] token: all {self._quota} are held by running attempts")

    async def release(self, ctx: TaskExecutionContext) -> None:
        """Give the attempt's token back; a no-op when it holds none (finalize and abort may repeat)."""
        if self._enabled(ctx) and ctx.resources is not None:
            await ctx.resources.release(self.resource, ctx.unique_id)

    @staticmethod
    def _waiting(reason: str) -> PhaseInfo:
        return PhaseInfo(Phase.WAITING_FOR_RESOURCES, reason=reason, occurred_at=datetime.now(UTC))
