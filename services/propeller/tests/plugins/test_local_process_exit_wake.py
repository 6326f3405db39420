"""The local-process plugin tells its exit listener (the controller) as soon as a process it spawned exits, so the
workflow is evaluated at once instead of at its next poll."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from flyteidl.core import identifier_pb2

from aloft_propeller.config import PropellerConfig
from aloft_propeller.plugins.base import Phase, TaskExecutionContext
from aloft_propeller.plugins.local_process import LocalProcessPlugin
from aloft_storage import BlobStore

MakeCtx = Callable[..., Awaitable[TaskExecutionContext]]


async def test_exit_wakes_the_listener_with_the_node_execution_id(
    propeller_config: PropellerConfig, blobs: BlobStore, make_ctx: MakeCtx, raw_template: Any
) -> None:
    woken: asyncio.Queue[identifier_pb2.NodeExecutionIdentifier] = asyncio.Queue()
    plugin = LocalProcessPlugin(propeller_config, blobs)
    plugin.set_exit_listener(woken.put_nowait)
    ctx = await make_ctx(raw_template("sleep 0.3"), execution="wake1")

    started = await plugin.handle(ctx)
    assert started.info.phase == Phase.RUNNING
    assert woken.empty()  # still running: nobody is woken early

    node_execution_id = await asyncio.wait_for(woken.get(), timeout=30)
    assert node_execution_id.node_id == ctx.task_execution_id.node_execution_id.node_id
    execution_id = node_execution_id.execution_id
    assert (execution_id.project, execution_id.domain, execution_id.name) == ("flytesnacks", "development", "wake1")
    # The launcher records the exit code before it exits: the woken handle sees the result without polling.
    finished = await plugin.handle(ctx)
    assert finished.info.phase == Phase.SUCCESS, finished.info
    assert woken.empty()  # one wake per process


async def test_without_a_listener_the_exit_is_found_by_polling(
    propeller_config: PropellerConfig, blobs: BlobStore, make_ctx: MakeCtx, raw_template: Any
) -> None:
    plugin = LocalProcessPlugin(propeller_config, blobs)
    ctx = await make_ctx(raw_template("exit 0"), execution="wake2")
    assert (await plugin.handle(ctx)).info.phase == Phase.RUNNING
    for _ in range(600):
        info = (await plugin.handle(ctx)).info
        if info.phase.is_terminal:
            break
        await asyncio.sleep(0.05)
    assert info.phase == Phase.SUCCESS, info


async def test_build_deps_connects_the_plugin_to_the_controller(
    propeller_config: PropellerConfig, blobs: BlobStore, make_ctx: MakeCtx, raw_template: Any
) -> None:
    """The assembled propeller: an exiting process queues its workflow on the controller."""
    from aloft_propeller.plugins.registry import build_plugin_registry
    from aloft_propeller.server import build_deps
    from aloft_propeller.store.base import ExecutionKey

    registry = build_plugin_registry(propeller_config, blobs)
    deps = build_deps(propeller_config, plugins=registry, blobs=blobs)
    try:
        ctx = await make_ctx(raw_template("exit 0"), execution="wake3")
        assert (await registry.for_task_type("raw-container").handle(ctx)).info.phase == Phase.RUNNING
        key = await asyncio.wait_for(deps.controller.queue.get(), timeout=30)
        assert key == ExecutionKey("flytesnacks", "development", "wake3")
    finally:
        await deps.sink.close()
        await deps.db.dispose()
