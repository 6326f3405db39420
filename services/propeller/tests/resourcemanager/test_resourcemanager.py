"""ResourceManager token pools: the redis manager against a real Redis (unique key prefix per test), and noop."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlparse

import pytest

from aloft_propeller.resourcemanager import (
    AllocationStatus,
    ExecutionScope,
    NoopResourceManager,
    RedisResourceManager,
    ResourceConstraints,
    ResourceManagerError,
    TaskResourceManager,
    build_resource_manager,
)
from aloft_propeller.resourcemanager.config import ResourceManagerConfig

EXEC_A = ExecutionScope("proj", "development", "exec-a")
EXEC_B = ExecutionScope("proj", "development", "exec-b")
EXEC_PROD = ExecutionScope("proj", "production", "exec-c")
OTHER_PROJECT = ExecutionScope("other", "development", "exec-d")
# Same leading characters as "proj": must not count against proj's project quota.
LOOKALIKE_PROJECT = ExecutionScope("proj2", "development", "exec-e")


def _config(redis_url: str) -> ResourceManagerConfig:
    url = urlparse(redis_url)
    return ResourceManagerConfig.model_validate(
        {"type": "redis", "resourceMaxQuota": 10, "redis": {"hostPaths": [f"{url.hostname}:{url.port}"]}}
    )


@pytest.fixture
async def manager(redis_url: str) -> AsyncIterator[RedisResourceManager]:
    prefix = f"test-rm-{uuid.uuid4().hex}:"
    built = build_resource_manager(_config(redis_url), key_prefix=prefix)
    assert isinstance(built, RedisResourceManager)
    try:
        yield built
    finally:
        client = built._client
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await built.close()


async def test_pool_grants_up_to_its_quota_then_reports_exhausted(manager: RedisResourceManager) -> None:
    manager.register_quota("cluster", 2)
    assert await manager.allocate("cluster", "t1", EXEC_A) is AllocationStatus.GRANTED
    assert await manager.allocate("cluster", "t2", EXEC_A) is AllocationStatus.GRANTED
    assert await manager.allocate("cluster", "t3", EXEC_B) is AllocationStatus.EXHAUSTED
    assert await manager.allocated("cluster") == 2

    await manager.release("cluster", "t1", EXEC_A)
    assert await manager.allocate("cluster", "t3", EXEC_B) is AllocationStatus.GRANTED


async def test_allocation_is_idempotent_and_release_of_unknown_token_is_a_noop(manager: RedisResourceManager) -> None:
    manager.register_quota("cluster", 1)
    assert await manager.allocate("cluster", "t1", EXEC_A) is AllocationStatus.GRANTED
    # Re-asking for a held token (a re-evaluated task) is granted again, even with the pool full.
    assert await manager.allocate("cluster", "t1", EXEC_A) is AllocationStatus.GRANTED
    # The same token name under another execution is a different token.
    assert await manager.allocate("cluster", "t1", EXEC_B) is AllocationStatus.EXHAUSTED
    await manager.release("cluster", "never-held", EXEC_A)
    assert await manager.allocated("cluster") == 1


async def test_pools_are_separate_per_resource(manager: RedisResourceManager) -> None:
    manager.register_quota("a", 1)
    manager.register_quota("b", 1)
    assert await manager.allocate("a", "t", EXEC_A) is AllocationStatus.GRANTED
    assert await manager.allocate("b", "t", EXEC_A) is AllocationStatus.GRANTED
    assert (await manager.allocated("a"), await manager.allocated("b")) == (1, 1)


async def test_project_scope_quota_caps_one_project_only(manager: RedisResourceManager) -> None:
    manager.register_quota("cluster", 10)
    capped = ResourceConstraints(project_scope=2)
    assert await manager.allocate("cluster", "t1", EXEC_A, capped) is AllocationStatus.GRANTED
    assert await manager.allocate("cluster", "t2", EXEC_PROD, capped) is AllocationStatus.GRANTED
    # Both domains of "proj" count: a third proj token is over the project cap.
    assert await manager.allocate("cluster", "t3", EXEC_B, capped) is AllocationStatus.NAMESPACE_QUOTA_EXCEEDED
    assert await manager.allocate("cluster", "t3", OTHER_PROJECT, capped) is AllocationStatus.GRANTED
    assert await manager.allocate("cluster", "t4", LOOKALIKE_PROJECT, capped) is AllocationStatus.GRANTED


async def test_namespace_scope_quota_caps_project_and_domain(manager: RedisResourceManager) -> None:
    manager.register_quota("cluster", 10)
    capped = ResourceConstraints(project_scope=5, namespace_scope=1)
    assert await manager.allocate("cluster", "t1", EXEC_A, capped) is AllocationStatus.GRANTED
    assert await manager.allocate("cluster", "t2", EXEC_B, capped) is AllocationStatus.NAMESPACE_QUOTA_EXCEEDED
    assert await manager.allocate("cluster", "t2", EXEC_PROD, capped) is AllocationStatus.GRANTED
    await manager.release("cluster", "t1", EXEC_A)
    assert await manager.allocate("cluster", "t2", EXEC_B, capped) is AllocationStatus.GRANTED


async def test_concurrent_allocations_never_overshoot_the_quota(manager: RedisResourceManager) -> None:
    manager.register_quota("cluster", 3)
    results = await asyncio.gather(
        *(manager.allocate("cluster", f"t{i}", ExecutionScope("p", "d", f"e{i}")) for i in range(12))
    )
    assert results.count(AllocationStatus.GRANTED) == 3
    assert results.count(AllocationStatus.EXHAUSTED) == 9
    assert await manager.allocated("cluster") == 3


async def test_tokens_are_shared_by_managers_on_the_same_redis(manager: RedisResourceManager, redis_url: str) -> None:
    """Two propellers on one Redis share the pool."""
    manager.register_quota("cluster", 1)
    other = build_resource_manager(_config(redis_url), key_prefix=manager._key_prefix)
    other.register_quota("cluster", 1)
    try:
        assert await manager.allocate("cluster", "t1", EXEC_A) is AllocationStatus.GRANTED
        assert await other.allocate("cluster", "t2", EXEC_B) is AllocationStatus.EXHAUSTED
    finally:
        await other.close()


@pytest.mark.parametrize("quota", [0, -1, 11])
def test_quota_outside_1_to_resource_max_quota_is_rejected(quota: int) -> None:
    with pytest.raises(ResourceManagerError, match=f"invalid quota {quota}"):
        NoopResourceManager(max_quota=10).register_quota("cluster", quota)


async def test_registration_mistakes_are_clear_errors(manager: RedisResourceManager) -> None:
    manager.register_quota("cluster", 1)
    with pytest.raises(ResourceManagerError, match="already registered"):
        manager.register_quota("cluster", 1)
    with pytest.raises(ResourceManagerError, match="'unknown' was never registered"):
        await manager.allocate("unknown", "t", EXEC_A)


async def test_noop_grants_everything() -> None:
    noop = build_resource_manager(ResourceManagerConfig())
    noop.register_quota("cluster", 1)
    statuses = [await noop.allocate("cluster", f"t{i}", EXEC_A) for i in range(3)]
    assert statuses == [AllocationStatus.GRANTED] * 3
    await noop.release("cluster", "t0", EXEC_A)


def test_redis_type_without_a_host_is_a_clear_error() -> None:
    with pytest.raises(ResourceManagerError, match="hostPaths is empty"):
        build_resource_manager(ResourceManagerConfig.model_validate({"type": "redis"}))


async def test_task_view_scopes_tokens_to_the_execution_and_plugin_namespace(manager: RedisResourceManager) -> None:
    manager.register_quota("qubole:default_cluster", 1)
    attempt_a = TaskResourceManager(manager, EXEC_A, namespace_prefix="qubole")
    attempt_b = TaskResourceManager(manager, EXEC_B, namespace_prefix="qubole")
    assert await attempt_a.allocate("default_cluster", "tok") is AllocationStatus.GRANTED
    assert await attempt_b.allocate("default_cluster", "tok") is AllocationStatus.EXHAUSTED
    await attempt_a.release("default_cluster", "tok")
    await attempt_a.release("default_cluster", "tok")  # finalize after abort: releasing twice is fine
    assert await attempt_b.allocate("default_cluster", "tok") is AllocationStatus.GRANTED
    assert await manager.allocated("qubole:default_cluster") == 1
