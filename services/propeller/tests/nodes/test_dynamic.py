"""Dynamic nodes end to end on the engine stack with flytekit's serialized ``dyn_fanout`` workflow: the scripted
plugin answers the dynamic task by writing a DynamicJobSpec (futures.pb) shaped like the one flytekit produced
(libs/aloft-compiler/tests/fixtures/dynamic/dynamic_job.pb), scaled to ``n``; the children run as real nodes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aloft.dataplane.v1 import dataplane_pb2
from flyteidl.core import dynamic_job_pb2, execution_pb2, literals_pb2

from aloft_propeller.plugins.base import ErrorKind, ExecutionError, Phase, PhaseInfo, PluginAnswer, TaskExecutionContext

WF = execution_pb2.WorkflowExecution
NODE = execution_pb2.NodeExecution
TASK = execution_pb2.TaskExecution
FIXTURE = Path(__file__).resolve().parents[4] / "libs/aloft-compiler/tests/fixtures/dynamic/dynamic_job.pb"


def fanout_job(n: int) -> dynamic_job_pb2.DynamicJobSpec:
    """``[square(add_one(i)) for i in range(n)]`` as flytekit's dynamic task returns it."""
    template = dynamic_job_pb2.DynamicJobSpec.FromString(FIXTURE.read_bytes())
    add_one, square = template.nodes[0], template.nodes[1]
    job = dynamic_job_pb2.DynamicJobSpec(tasks=template.tasks, min_successes=2 * n)
    outputs = job.outputs.add(var="o0")
    outputs.binding.collection.SetInParent()
    for i in range(n):
        first, second = job.nodes.add(), job.nodes.add()
        first.CopyFrom(add_one)
        first.id = f"dn{2 * i}"
        first.inputs[0].binding.scalar.primitive.integer = i
        second.CopyFrom(square)
        second.id = f"dn{2 * i + 1}"
        second.inputs[0].binding.promise.node_id = first.id
        del second.upstream_node_ids[:]
        second.upstream_node_ids.append(first.id)
        outputs.binding.collection.bindings.add().promise.CopyFrom(second.inputs[0].binding.promise)
        outputs.binding.collection.bindings[-1].promise.node_id = second.id
    return job


def run_dynamic(plugin: Any, broken_input: int | None = None, bad_job: bool = False) -> None:
    """The dynamic task writes futures.pb; ``square`` fails on ``broken_input``; ``bad_job`` drops the tasks."""
    original = plugin.handle

    async def handle(ctx: TaskExecutionContext) -> PluginAnswer:
        name = ctx.template.id.name.rsplit(".", 1)[-1]
        inputs = await ctx.blobs.read_proto(ctx.inputs_uri, literals_pb2.LiteralMap)
        if name == "dyn_fanout":
            plugin._started_at(ctx)
            job = fanout_job(inputs.literals["n"].scalar.primitive.integer)
            if bad_job:
                del job.tasks[:]
            await ctx.blobs.write_proto(f"{ctx.output_prefix}/futures.pb", job)
            return PluginAnswer(PhaseInfo(Phase.SUCCESS, version=1))
        if name == "square" and inputs.literals["x"].scalar.primitive.integer == broken_input:
            plugin._started_at(ctx)
            error = ExecutionError("USER:ValueError", f"cannot square {broken_input}", ErrorKind.USER)
            return PluginAnswer(PhaseInfo(Phase.PERMANENT_FAILURE, error=error))
        return await original(ctx)

    plugin.handle = handle


def events_of(stack: Any, name: str) -> list[Any]:
    return [e for e in stack.admin.node_events if e.id.execution_id.name == name]


async def test_dynamic_fanout_runs_children_and_resolves_outputs(stack: Any) -> None:
    run_dynamic(stack.plugin)
    execution_id = await stack.create("dynamic", {"n": 3})
    status = await stack.wait(execution_id)
    assert status.phase == WF.SUCCEEDED, status
    assert await stack.outputs(execution_id) == {"o0": [1, 4, 9]}  # square(add_one(i))
    events = events_of(stack, execution_id.name)
    parent = [e for e in events if e.id.node_id == "n0"]
    assert [e.phase for e in parent] == [NODE.QUEUED, NODE.RUNNING, NODE.DYNAMIC_RUNNING, NODE.SUCCEEDED]
    dynamic = parent[2].task_node_metadata.dynamic_workflow
    assert dynamic.dynamic_job_spec_uri.endswith("/n0/0/futures.pb")
    compiled_ids = {node.id for node in dynamic.compiled_workflow.primary.template.nodes}
    assert {f"dn{i}" for i in range(6)} <= compiled_ids
    assert parent[-1].is_parent and parent[-1].is_dynamic
    children = [e for e in events if e.id.node_id != "n0"]
    assert {e.id.node_id for e in children} == {f"n0-0-dn{i}" for i in range(6)}
    assert {e.parent_node_metadata.node_id for e in children} == {"n0"}
    assert {e.retry_group for e in children} == {"0"}
    assert len(stack.plugin.starts()) == 7


async def test_child_failure_fails_the_dynamic_node(stack: Any) -> None:
    run_dynamic(stack.plugin, broken_input=2)  # add_one(1) == 2
    execution_id = await stack.create("dynamic", {"n": 3})
    status = await stack.wait(execution_id)
    assert status.phase == WF.FAILED
    assert "cannot square 2" in status.error.message
    parent = [e for e in events_of(stack, execution_id.name) if e.id.node_id == "n0"]
    assert parent[-1].phase == NODE.FAILED


async def test_uncompilable_dynamic_job_fails_with_build_error(stack: Any) -> None:
    run_dynamic(stack.plugin, bad_job=True)
    execution_id = await stack.create("dynamic", {"n": 2})
    status = await stack.wait(execution_id)
    assert status.phase == WF.FAILED
    assert status.error.code == "DynamicWorkflowBuildFailed", status.error


async def test_empty_and_wide_fanouts(stack: Any) -> None:
    run_dynamic(stack.plugin)
    empty = await stack.create("dynamic", {"n": 0})
    wide = await stack.create("dynamic", {"n": 60})
    assert (await stack.wait(empty)).phase == WF.SUCCEEDED
    assert await stack.outputs(empty) == {"o0": []}
    assert (await stack.wait(wide, deadline=120)).phase == WF.SUCCEEDED
    assert await stack.outputs(wide) == {"o0": [(i + 1) ** 2 for i in range(60)]}


@pytest.mark.parametrize("store_url", ["sqlite", "postgres"], indirect=True)
async def test_restart_mid_dynamic_never_runs_a_child_twice(stack: Any) -> None:
    run_dynamic(stack.plugin)
    stack.plugin.durations.update({"add_one": 0.15, "square": 0.15})
    execution_id = await stack.create("dynamic", {"n": 10})
    for _ in range(3):
        await asyncio.sleep(0.3)
        await stack.stop()  # cancelled wherever it is, also between compiling the job and persisting that
        await stack.start()
    status = await stack.wait(execution_id)
    assert status.phase == WF.SUCCEEDED, status
    assert await stack.outputs(execution_id) == {"o0": [(i + 1) ** 2 for i in range(10)]}
    children = [uid for uid in stack.plugin.starts() if "-n0-0-dn" in uid]
    assert len(children) == 20 and len(set(children)) == 20
    parent = stack.admin.node_phases(execution_id.name, "n0")
    assert parent == [NODE.QUEUED, NODE.RUNNING, NODE.DYNAMIC_RUNNING, NODE.SUCCEEDED]


async def test_abort_aborts_the_running_children(stack: Any) -> None:
    run_dynamic(stack.plugin)
    stack.plugin.durations["add_one"] = 600.0
    execution_id = await stack.create("dynamic", {"n": 2})
    while len([uid for uid in stack.plugin.starts() if "-dn" in uid]) < 2:
        await asyncio.sleep(0.05)
    await stack.client.AbortExecution(dataplane_pb2.AbortExecutionRequest(id=execution_id, cause="enough"))
    status = await stack.wait(execution_id)
    assert status.phase == WF.ABORTED
    name = execution_id.name
    assert stack.plugin.aborted() == [f"{name}-n0-0-dn0-0", f"{name}-n0-0-dn2-0"]
    assert stack.admin.node_phases(name, "n0")[-1] == NODE.ABORTED
    assert stack.admin.node_phases(name, "n0-0-dn0")[-1] == NODE.ABORTED
    parent_task = [e.phase for e in stack.admin.task_events if e.parent_node_execution_id.node_id == "n0"]
    assert parent_task[-1] == TASK.SUCCEEDED  # the dynamic task itself had finished: never reported aborted
