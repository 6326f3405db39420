"""Task caching in the engine: propeller's real service + the scripted plugin + a real datacatalog process.

The scripted plugin logs every attempt it starts (``starts.log``): "ran no process" is "no new start".
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from flyteidl.core import catalog_pb2, compiler_pb2, execution_pb2, literals_pb2

from aloft_propeller.catalog.config import CatalogCacheConfig
from aloft_propeller.plugins.base import Phase, PhaseInfo, PluginAnswer, TaskExecutionContext

TASKS = ("add_one", "double", "to_str")


@pytest.fixture
async def cached_stack(stack: Any, datacatalog_endpoint: str) -> Any:
    """The engine stack, restarted with catalog-cache pointing at the real datacatalog."""
    await stack.stop()
    stack.config = stack.config.model_copy(update={"catalog_cache": CatalogCacheConfig(endpoint=datacatalog_endpoint)})
    await stack.start()
    return stack


def cache_tasks(version: str, serializable: bool = False) -> Any:
    def mutate(closure: compiler_pb2.CompiledWorkflowClosure) -> None:
        for task in closure.tasks:
            task.template.metadata.discoverable = True
            task.template.metadata.discovery_version = version
            task.template.metadata.cache_serializable = serializable

    return mutate


def succeeded_cache_status(stack: Any, name: str, node_id: str) -> int:
    events = [
        e
        for e in stack.admin.node_events
        if e.id.execution_id.name == name
        and e.id.node_id == node_id
        and e.phase == execution_pb2.NodeExecution.SUCCEEDED
    ]
    assert len(events) == 1, f"{name}/{node_id}: {len(events)} SUCCEEDED events"
    return int(events[0].task_node_metadata.cache_status)


def task_starts(stack: Any, name: str) -> list[str]:
    return [unique_id for unique_id in stack.plugin.starts() if unique_id.startswith(name)]


async def test_second_identical_execution_is_served_from_the_cache(cached_stack: Any, request: Any) -> None:
    version = f"v-{request.node.name[-8:]}"
    first = await cached_stack.create("chain", {"x": 3}, mutate=cache_tasks(version))
    assert (await cached_stack.wait(first)).phase == execution_pb2.WorkflowExecution.SUCCEEDED
    assert len(task_starts(cached_stack, first.name)) == 3
    assert succeeded_cache_status(cached_stack, first.name, "n0") == catalog_pb2.CACHE_POPULATED

    second = await cached_stack.create("chain", {"x": 3}, mutate=cache_tasks(version))
    assert (await cached_stack.wait(second)).phase == execution_pb2.WorkflowExecution.SUCCEEDED
    assert task_starts(cached_stack, second.name) == []
    assert await cached_stack.outputs(second) == await cached_stack.outputs(first)
    for node_id in ("n0", "n1", "n2"):
        assert succeeded_cache_status(cached_stack, second.name, node_id) == catalog_pb2.CACHE_HIT
    hit = next(
        e
        for e in cached_stack.admin.node_events
        if e.id.execution_id.name == second.name
        and e.id.node_id == "n0"
        and e.phase == execution_pb2.NodeExecution.SUCCEEDED
    )
    assert hit.task_node_metadata.catalog_key.dataset_id.name.startswith("flyte_task-")
    assert hit.task_node_metadata.catalog_key.source_task_execution.node_execution_id.execution_id.name == first.name
    # Cache hits run nothing, so they send no task events (as in Flyte).
    assert not [
        e for e in cached_stack.admin.task_events if e.parent_node_execution_id.execution_id.name == second.name
    ]


async def test_other_inputs_miss_and_overwrite_cache_reruns(cached_stack: Any, request: Any) -> None:
    version = f"v-{request.node.name[-8:]}"
    first = await cached_stack.create("chain", {"x": 4}, mutate=cache_tasks(version))
    await cached_stack.wait(first)
    other = await cached_stack.create("chain", {"x": 5}, mutate=cache_tasks(version))
    await cached_stack.wait(other)
    assert len(task_starts(cached_stack, other.name)) == 3

    overwrite = await cached_stack.create("chain", {"x": 4}, mutate=cache_tasks(version), overwrite_cache=True)
    assert (await cached_stack.wait(overwrite)).phase == execution_pb2.WorkflowExecution.SUCCEEDED
    assert len(task_starts(cached_stack, overwrite.name)) == 3
    assert succeeded_cache_status(cached_stack, overwrite.name, "n0") == catalog_pb2.CACHE_POPULATED


async def test_concurrent_serializable_executions_run_the_task_once(cached_stack: Any, request: Any) -> None:
    version = f"v-{request.node.name[-8:]}"
    cached_stack.plugin.durations["add_one"] = 1.5  # long enough that the second execution finds it running
    mutate = cache_tasks(version, serializable=True)
    first, second = await asyncio.gather(
        cached_stack.create("chain", {"x": 6}, mutate=mutate), cached_stack.create("chain", {"x": 6}, mutate=mutate)
    )
    results = await asyncio.gather(cached_stack.wait(first), cached_stack.wait(second))
    assert [r.phase for r in results] == [execution_pb2.WorkflowExecution.SUCCEEDED] * 2
    assert await cached_stack.outputs(first) == await cached_stack.outputs(second)

    starts = task_starts(cached_stack, first.name) + task_starts(cached_stack, second.name)
    add_one_starts = [s for s in starts if "-n0-" in s]
    assert len(add_one_starts) == 1, starts
    statuses = sorted(succeeded_cache_status(cached_stack, e.name, "n0") for e in (first, second))
    assert statuses == sorted([catalog_pb2.CACHE_POPULATED, catalog_pb2.CACHE_HIT])


async def test_unreachable_catalog_never_fails_the_task(stack: Any, request: Any) -> None:
    from aloft_testing.servers import free_port

    await stack.stop()
    down = CatalogCacheConfig.model_validate(
        {"endpoint": f"127.0.0.1:{free_port()}", "max-retries": 0, "timeout": "1s"}
    )
    stack.config = stack.config.model_copy(update={"catalog_cache": down})
    await stack.start()
    execution = await stack.create("chain", {"x": 2}, mutate=cache_tasks("v1", serializable=True))
    assert (await stack.wait(execution)).phase == execution_pb2.WorkflowExecution.SUCCEEDED
    assert len(task_starts(stack, execution.name)) == 3
    assert succeeded_cache_status(stack, execution.name, "n0") == catalog_pb2.CACHE_PUT_FAILURE


def cache_map_task(version: str) -> Any:
    """map_task(square) with a cacheable sub-task; sub-nodes get their own element inputs (original interface)."""

    def mutate(closure: compiler_pb2.CompiledWorkflowClosure) -> None:
        cache_tasks(version)(closure)
        array = next(node for node in closure.primary.template.nodes if node.HasField("array_node")).array_node
        array.is_original_sub_node_interface.value = True

    return mutate


def square_elements(plugin: Any) -> None:
    """The scripted plugin runs map_task's sub-task as ``o0 = x * x`` on the element's own inputs."""

    async def handle(ctx: TaskExecutionContext) -> PluginAnswer:
        plugin._started_at(ctx)  # logs the start: cache hits must not get here
        inputs = await ctx.blobs.read_proto(ctx.inputs_uri, literals_pb2.LiteralMap)
        x = inputs.literals["x"].scalar.primitive.integer
        outputs = literals_pb2.LiteralMap()
        outputs.literals["o0"].scalar.primitive.integer = x * x
        await ctx.blobs.write_proto(f"{ctx.output_prefix}/outputs.pb", outputs)
        return PluginAnswer(PhaseInfo(Phase.SUCCESS, version=1))

    plugin.handle = handle


async def test_array_sub_tasks_are_cached_per_element(cached_stack: Any, request: Any) -> None:
    version = f"v-{request.node.name[-8:]}"
    square_elements(cached_stack.plugin)
    first = await cached_stack.create("map_task", {"xs": [3, 1, 4]}, mutate=cache_map_task(version))
    assert (await cached_stack.wait(first)).phase == execution_pb2.WorkflowExecution.SUCCEEDED
    assert len(task_starts(cached_stack, first.name)) == 3

    # Elements 3 and 4 were cached by the first run; only 5 runs.
    second = await cached_stack.create("map_task", {"xs": [4, 5, 3]}, mutate=cache_map_task(version))
    assert (await cached_stack.wait(second)).phase == execution_pb2.WorkflowExecution.SUCCEEDED
    assert len(task_starts(cached_stack, second.name)) == 1
    assert await cached_stack.outputs(second) == {"o0": [16, 25, 9]}
