"""ResourceManager: token pools that let plugins throttle calls to a shared external resource.

As in Flyte (flytepropeller/pkg/controller/nodes/task/resourcemanager): a plugin registers a quota per resource name
at start-up; at run time each task execution asks for a token (``allocate``) and gives it back when done
(``release``). Tokens are prefixed with the execution's scope ``ex:<project>:<domain>:<execution name>``, which is
what project- and namespace-(project+domain) scope quotas count against.

Invariants: ``allocate`` is idempotent (a token already held is GRANTED again); ``release`` of a token not held is a
no-op; allocation and its quota checks are one atomic step, so concurrent propellers never overshoot a quota.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

EXEC_URN_PREFIX = "ex"


class AllocationStatus(enum.Enum):
    UNDEFINED = 0
    GRANTED = 1
    # The resource's global pool is full.
    EXHAUSTED = 2
    # The pool has room, but the project (or project+domain) scope quota of this execution is used up.
    NAMESPACE_QUOTA_EXCEEDED = 3


class ResourceManagerError(ValueError):
    """Misuse of the resource manager: an invalid quota, a duplicate registration, an unregistered resource."""


@dataclass(frozen=True)
class ExecutionScope:
    """Whose token it is: the workflow execution the task attempt belongs to."""

    project: str
    domain: str
    name: str

    def project_prefix(self) -> str:
        return f"{EXEC_URN_PREFIX}:{self.project}:"

    def namespace_prefix(self) -> str:
        return f"{EXEC_URN_PREFIX}:{self.project}:{self.domain}:"

    def token(self, token: str) -> str:
        return f"{EXEC_URN_PREFIX}:{self.project}:{self.domain}:{self.name}-{token}"


@dataclass(frozen=True)
class ResourceConstraints:
    """Caps on how many tokens of one resource a project / a project+domain may hold (None = uncapped)."""

    project_scope: int | None = None
    namespace_scope: int | None = None

    def for_scope(self, scope: ExecutionScope) -> list[tuple[str, int]]:
        """(token prefix, cap) pairs; a token counts against a cap when it starts with the prefix."""
        caps = []
        if self.project_scope is not None:
            caps.append((scope.project_prefix(), self.project_scope))
        if self.namespace_scope is not None:
            caps.append((scope.namespace_prefix(), self.namespace_scope))
        return caps


class ResourceManager(Protocol):
    def register_quota(self, resource: str, quota: int) -> None:
        """Declare a resource pool of ``quota`` tokens (at start-up, before any allocation).

        Raises ResourceManagerError if the quota is <= 0 or above ``resourceMaxQuota``, or the resource exists."""
        ...

    async def allocate(
        self, resource: str, token: str, scope: ExecutionScope, constraints: ResourceConstraints | None = None
    ) -> AllocationStatus:
        """Take a token of ``resource`` for ``scope``; GRANTED, EXHAUSTED or NAMESPACE_QUOTA_EXCEEDED."""
        ...

    async def release(self, resource: str, token: str, scope: ExecutionScope) -> None:
        """Give a token back (no-op if not held)."""
        ...

    async def allocated(self, resource: str) -> int:
        """How many tokens of ``resource`` are held right now."""
        ...

    async def close(self) -> None: ...


class QuotaRegistry:
    """Registered pool sizes, validated as Flyte does (0 < quota <= resourceMaxQuota, one registration each)."""

    def __init__(self, max_quota: int) -> None:
        self._max_quota = max_quota
        self._quotas: dict[str, int] = {}

    def register(self, resource: str, quota: int) -> None:
        if quota <= 0 or quota > self._max_quota:
            raise ResourceManagerError(
                f"invalid quota {quota} for resource {resource!r}: must be in 1..{self._max_quota}"
            )
        if resource in self._quotas:
            raise ResourceManagerError(f"resource {resource!r} is already registered")
        self._quotas[resource] = quota

    def quota(self, resource: str) -> int:
        try:
            return self._quotas[resource]
        except KeyError:
            raise ResourceManagerError(f"resource {resource!r} was never registered") from None

    def resources(self) -> list[str]:
        return sorted(self._quotas)


class TaskResourceManager:
    """The view a plugin gets for one task attempt: tokens are scoped to the attempt's workflow execution.

    Plugins call ``allocate`` before talking to the throttled service (retrying next round unless GRANTED) and
    ``release`` when the call is done (also from ``abort``/``finalize``, which may repeat: release is idempotent).
    """

    def __init__(self, manager: ResourceManager, scope: ExecutionScope, namespace_prefix: str = "") -> None:
        self._manager = manager
        self._scope = scope
        self._prefix = namespace_prefix

    async def allocate(
        self, resource: str, token: str, constraints: ResourceConstraints | None = None
    ) -> AllocationStatus:
        return await self._manager.allocate(self._name(resource), token, self._scope, constraints)

    async def release(self, resource: str, token: str) -> None:
        await self._manager.release(self._name(resource), token, self._scope)

    def _name(self, resource: str) -> str:
        # A plugin's pools live under its id ("<plugin>:<resource>"), as Flyte's ResourceNamespace.CreateSubNamespace.
        return f"{self._prefix}:{resource}" if self._prefix else resource
