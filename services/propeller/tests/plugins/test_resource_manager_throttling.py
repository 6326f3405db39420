"""The local-process plugin throttled by the ResourceManager: a token per attempt (real Redis, unique key prefix per
test; and the noop manager), WAITING_FOR_RESOURCES without starting the process while no token is granted,
release on finalize and abort, project / namespace scope constraints, and the registration at build time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flyteidl.core import tasks_pb2

from aloft_propeller.config import PropellerConfig
from aloft_propeller.plugins.base import Phase, PhaseInfo, Plugin, TaskExecutionContext
from aloft_propeller.plugins.local_process import LocalProcessPlugin
from aloft_propeller.plugins.registry import build_plugin_registry
from aloft_propeller.plugins.resources import attempt_resources
from aloft_propeller.resourcemanager import (
    NoopResourceManager,
    RedisResourceManager,
    ResourceManager,
    ResourceManagerError,
)
from aloft_propeller.resourcemanager.config import RedisConfig
from aloft_propeller.resourcemanager.redis import redis_client
from aloft_storage import BlobStore

POOL = "local-process:local-process"
MakeCtx = Callable[..., Awaitable[TaskExecutionContext]]


@pytest.fixture
def gated(
    raw_template: Callable[..., tasks_pb2.TaskTemplate], tmp_path: Path
) -> Callable[[str], tasks_pb2.TaskTemplate]:
    """A raw task that records it started, then runs until its gate file exists."""

    def build(name: str) -> tasks_pb2.TaskTemplate:
        started, gate = tmp_path / f"{name}.started", tmp_path / f"{name}.gate"
        return raw_template(f"touch {started}; while [ ! -f {gate} ]; do sleep 0.05; done", name=name)

    return build


def _open_gate(tmp_path: Path, name: str) -> None:
    (tmp_path / f"{name}.gate").touch()


def _throttled_plugin(
    make_config: Callable[..., PropellerConfig], blobs: BlobStore, manager: ResourceManager, **settings: Any
) -> Plugin:
    registry = build_plugin_registry(make_config(**settings), blobs, resources=manager)
    return registry.for_task_type("raw-container")


async def _attempt(
    make_ctx: MakeCtx,
    manager: ResourceManager,
    template: tasks_pb2.TaskTemplate,
    execution: str,
    project: str = "flytesnacks",
    domain: str = "development",
) -> TaskExecutionContext:
    ctx = await make_ctx(template, execution=execution)
    return replace(ctx, resources=attempt_resources(manager, "local-process", project, domain, execution))


async def _handle(plugin: Plugin, ctx: TaskExecutionContext) -> PhaseInfo:
    return (await plugin.handle(ctx)).info


def _started(plugin: Plugin, ctx: TaskExecutionContext) -> bool:
    assert isinstance(plugin, LocalProcessPlugin)
    return plugin.launched(ctx)


async def test_quota_one_second_attempt_waits_until_the_first_is_finalized(
    make_config: Callable[..., PropellerConfig],
    blobs: BlobStore,
    make_ctx: MakeCtx,
    drive: Callable[..., Awaitable[PhaseInfo]],
    gated: Callable[[str], tasks_pb2.TaskTemplate],
    redis_manager: RedisResourceManager,
    tmp_path: Path,
) -> None:
    plugin = _throttled_plugin(make_config, blobs, redis_manager, **{"resource-quota": 1})
    first = await _attempt(make_ctx, redis_manager, gated("first"), "exec-a")
    second = await _attempt(make_ctx, redis_manager, gated("second"), "exec-b")

    assert (await _handle(plugin, first)).phase is Phase.RUNNING
    waiting = await _handle(plugin, second)
    assert waiting.phase is Phase.WAITING_FOR_RESOURCES
    assert "local-process" in waiting.reason and "all 1" in waiting.reason
    assert not _started(plugin, second)
    # Asking again for the token it holds is granted again: the running attempt is observed, not re-launched.
    assert (await _handle(plugin, first)).phase is Phase.RUNNING
    assert await redis_manager.allocated(POOL) == 1

    _open_gate(tmp_path, "first")
    assert (await drive(plugin, first)).phase is Phase.SUCCESS
    # The token goes back in finalize, not when the process ends.
    assert (await _handle(plugin, second)).phase is Phase.WAITING_FOR_RESOURCES
    await plugin.finalize(first)
    assert await redis_manager.allocated(POOL) == 0

    assert (await _handle(plugin, second)).phase is Phase.RUNNING
    assert _started(plugin, second)
    _open_gate(tmp_path, "second")
    assert (await drive(plugin, second)).phase is Phase.SUCCESS
    await plugin.finalize(second)
    await plugin.finalize(second)  # repeated finalize is a no-op
    assert await redis_manager.allocated(POOL) == 0


@pytest.mark.parametrize(
    ("constraint", "other_domain_waits"),
    [("ProjectScopeResourceConstraint", True), ("NamespaceScopeResourceConstraint", False)],
)
async def test_scope_constraints_cap_tokens_per_project_or_namespace(
    make_config: Callable[..., PropellerConfig],
    blobs: BlobStore,
    make_ctx: MakeCtx,
    gated: Callable[[str], tasks_pb2.TaskTemplate],
    redis_manager: RedisResourceManager,
    tmp_path: Path,
    constraint: str,
    other_domain_waits: bool,
) -> None:
    settings = {"resource-quota": 5, "resource-constraints": {constraint: {"Value": 1}}}
    plugin = _throttled_plugin(make_config, blobs, redis_manager, **settings)
    holder = await _attempt(make_ctx, redis_manager, gated("holder"), "exec-a")
    same_namespace = await _attempt(make_ctx, redis_manager, gated("same"), "exec-b")
    other_domain = await _attempt(make_ctx, redis_manager, gated("dom"), "exec-c", domain="production")
    other_project = await _attempt(make_ctx, redis_manager, gated("proj"), "exec-d", project="other")
    attempts = [holder, same_namespace, other_domain, other_project]
    try:
        assert (await _handle(plugin, holder)).phase is Phase.RUNNING
        capped = await _handle(plugin, same_namespace)
        assert capped.phase is Phase.WAITING_FOR_RESOURCES
        assert "quota of project [flytesnacks]" in capped.reason
        assert not _started(plugin, same_namespace)
        expected = Phase.WAITING_FOR_RESOURCES if other_domain_waits else Phase.RUNNING
        assert (await _handle(plugin, other_domain)).phase is expected
        assert (await _handle(plugin, other_project)).phase is Phase.RUNNING
    finally:
        for ctx in attempts:
            await plugin.abort(ctx, "test over")
            await plugin.finalize(ctx)
    assert await redis_manager.allocated(POOL) == 0


async def test_abort_releases_the_token_and_a_waiting_attempt_never_starts(
    make_config: Callable[..., PropellerConfig],
    blobs: BlobStore,
    make_ctx: MakeCtx,
    gated: Callable[[str], tasks_pb2.TaskTemplate],
    redis_manager: RedisResourceManager,
    tmp_path: Path,
) -> None:
    plugin = _throttled_plugin(make_config, blobs, redis_manager, **{"resource-quota": 1})
    running = await _attempt(make_ctx, redis_manager, gated("running"), "exec-a")
    waiting = await _attempt(make_ctx, redis_manager, gated("waiting"), "exec-b")
    assert (await _handle(plugin, running)).phase is Phase.RUNNING
    assert (await _handle(plugin, waiting)).phase is Phase.WAITING_FOR_RESOURCES

    await plugin.abort(waiting, "user asked")  # holds no token: nothing to release
    assert await redis_manager.allocated(POOL) == 1
    await plugin.abort(running, "user asked")  # no finalize yet: abort alone gives the token back
    assert await redis_manager.allocated(POOL) == 0
    aborted = await _handle(plugin, running)
    assert aborted.phase is Phase.PERMANENT_FAILURE
    assert not (tmp_path / "waiting.started").exists()

    # The freed token goes to the next attempt that asks.
    third = await _attempt(make_ctx, redis_manager, gated("third"), "exec-c")
    try:
        assert (await _handle(plugin, third)).phase is Phase.RUNNING
    finally:
        await plugin.abort(third, "test over")
        await plugin.finalize(third)
    assert await redis_manager.allocated(POOL) == 0


async def test_max_concurrency_still_throttles_and_a_waiting_attempt_holds_no_token(
    make_config: Callable[..., PropellerConfig],
    blobs: BlobStore,
    make_ctx: MakeCtx,
    gated: Callable[[str], tasks_pb2.TaskTemplate],
    redis_manager: RedisResourceManager,
) -> None:
    plugin = _throttled_plugin(make_config, blobs, redis_manager, **{"resource-quota": 5, "max-concurrency": 1})
    first = await _attempt(make_ctx, redis_manager, gated("first"), "exec-a")
    second = await _attempt(make_ctx, redis_manager, gated("second"), "exec-b")
    try:
        assert (await _handle(plugin, first)).phase is Phase.RUNNING
        waiting = await _handle(plugin, second)
        assert waiting.phase is Phase.WAITING_FOR_RESOURCES
        assert "slot" in waiting.reason
        assert await redis_manager.allocated(POOL) == 1
    finally:
        for ctx in (first, second):
            await plugin.abort(ctx, "test over")
            await plugin.finalize(ctx)


async def test_noop_manager_grants_every_attempt(
    make_config: Callable[..., PropellerConfig],
    blobs: BlobStore,
    make_ctx: MakeCtx,
    gated: Callable[[str], tasks_pb2.TaskTemplate],
) -> None:
    manager = NoopResourceManager()
    plugin = _throttled_plugin(make_config, blobs, manager, **{"resource-quota": 1})
    first = await _attempt(make_ctx, manager, gated("first"), "exec-a")
    second = await _attempt(make_ctx, manager, gated("second"), "exec-b")
    try:
        assert (await _handle(plugin, first)).phase is Phase.RUNNING
        assert (await _handle(plugin, second)).phase is Phase.RUNNING
    finally:
        for ctx in (first, second):
            await plugin.abort(ctx, "test over")
            await plugin.finalize(ctx)


async def test_unreachable_redis_means_waiting_not_running(
    make_config: Callable[..., PropellerConfig],
    blobs: BlobStore,
    make_ctx: MakeCtx,
    gated: Callable[[str], tasks_pb2.TaskTemplate],
) -> None:
    manager = RedisResourceManager(redis_client(RedisConfig(hostPaths=["127.0.0.1:1"])), 10)
    try:
        plugin = _throttled_plugin(make_config, blobs, manager, **{"resource-quota": 1})
        ctx = await _attempt(make_ctx, manager, gated("first"), "exec-a")
        info = await _handle(plugin, ctx)
        assert info.phase is Phase.WAITING_FOR_RESOURCES
        assert "Redis unavailable" in info.reason
        assert not _started(plugin, ctx)
    finally:
        await manager.close()


def test_registry_registers_the_pool_at_build_time(
    make_config: Callable[..., PropellerConfig], blobs: BlobStore
) -> None:
    manager = NoopResourceManager(max_quota=3)
    build_plugin_registry(make_config(**{"resource-quota": 3}), blobs, resources=manager)
    with pytest.raises(ResourceManagerError, match="already registered"):
        manager.register_quota(POOL, 1)
    with pytest.raises(ResourceManagerError, match=r"invalid quota 4 .*1\.\.3"):
        build_plugin_registry(make_config(**{"resource-quota": 4}), blobs, resources=NoopResourceManager(3))
    unthrottled = NoopResourceManager(max_quota=3)
    build_plugin_registry(make_config(), blobs, resources=unthrottled)  # quota 0: no pool
    unthrottled.register_quota(POOL, 1)


def test_config_rejects_a_quota_above_the_resource_managers_maximum() -> None:
    settings = {"plugins": {"local-process": {"resource-quota": 11}}, "resourcemanager": {"resourceMaxQuota": 10}}
    with pytest.raises(ValueError, match=r"plugins.local-process.resource-quota 11 exceeds .*resourceMaxQuota 10"):
        PropellerConfig.model_validate(settings)
    constrained = PropellerConfig.model_validate(
        {
            "plugins": {
                "local-process": {
                    "resource-quota": 10,
                    "resource-constraints": {"ProjectScopeResourceConstraint": {"Value": 2}},
                }
            }
        }
    )
    spec = constrained.plugins.local_process.resource_constraints
    assert spec.ProjectScopeResourceConstraint is not None and spec.ProjectScopeResourceConstraint.Value == 2
    assert spec.NamespaceScopeResourceConstraint is None
