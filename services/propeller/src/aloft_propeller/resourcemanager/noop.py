"""``resourcemanager.type: noop``: every allocation is granted, nothing is tracked (Flyte's default)."""

from __future__ import annotations

from aloft_propeller.resourcemanager.base import AllocationStatus, ExecutionScope, QuotaRegistry, ResourceConstraints


class NoopResourceManager:
    def __init__(self, max_quota: int = 1000) -> None:
        # Registrations are still validated, so a bad plugin config fails the same way under both types.
        self._quotas = QuotaRegistry(max_quota)

    def register_quota(self, resource: str, quota: int) -> None:
        self._quotas.register(resource, quota)

    async def allocate(
        self, resource: str, token: str, scope: ExecutionScope, constraints: ResourceConstraints | None = None
    ) -> AllocationStatus:
        return AllocationStatus.GRANTED

    async def release(self, resource: str, token: str, scope: ExecutionScope) -> None:
        return None

    async def allocated(self, resource: str) -> int:
        return 0

    async def close(self) -> None:
        return None
