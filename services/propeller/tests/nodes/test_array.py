"""Array (map) nodes end to end on the engine stack (real DataPlaneService, controller, SQL store, blob store, admin
event sink), with flytekit's serialized ``map_task(square)`` workflow. The scripted plugin runs each sub-task like
flytekit's ``pyflyte-map-execute``: it reads the whole array's inputs and picks its element from the index env."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from aloft.dataplane.v1 import dataplane_pb2
from flyteidl.core import compiler_pb2, execution_pb2, literals_pb2

from aloft_propeller.nodes.array.state import ArrayState, SubPhase
from aloft_propeller.plugins.base import ErrorKind, ExecutionError, Phase, PhaseInfo, PluginAnswer, TaskExecutionContext

WF = execution_pb2.WorkflowExecution
NODE = execution_pb2.NodeExecution
TASK = execution_pb2.TaskExecution


def run_map_elements(
    plugin: Any, fail_attempts: dict[int, int] | None = None, broken: set[int] | None = None, duration: float = 0.0
) -> None:
    """Make the scripted plugin square element FLYTE_K8S_ARRAY_INDEX; ``fail_attempts[i]`` first attempts of
    element i fail retryably, elements in ``broken`` then fail for good ("bad element")."""
    fail_attempts, broken = fail_attempts or {}, broken or set()

    async def handle(ctx: TaskExecutionContext) -> PluginAnswer:
        started = plugin._started_at(ctx)
        if time.time() - started < duration:
            return PluginAnswer(PhaseInfo(Phase.RUNNING, version=0), plugin_state=b"running")
        plugin.active.discard(ctx.unique_id)
        index = int(ctx.envs[ctx.envs["BATCH_JOB_ARRAY_INDEX_VAR_NAME"]])
        if ctx.attempt < fail_attempts.get(index, 0):
            error = ExecutionError("USER:ValueError", f"element {index} attempt {ctx.attempt} failed", ErrorKind.USER)
            return PluginAnswer(PhaseInfo(Phase.RETRYABLE_FAILURE, error=error))
        if index in broken:
            error = ExecutionError("USER:ValueError", "bad element", ErrorKind.USER)
            return PluginAnswer(PhaseInfo(Phase.PERMANENT_FAILURE, error=error))
        inputs = await ctx.blobs.read_proto(ctx.inputs_uri, literals_pb2.LiteralMap)
        x = inputs.literals["x"].collection.literals[index].scalar.primitive.integer
        outputs = literals_pb2.LiteralMap()
        outputs.literals["o0"].scalar.primitive.integer = x * x
        await ctx.blobs.write_proto(f"{ctx.output_prefix}/outputs.pb", outputs)
        return PluginAnswer(PhaseInfo(Phase.SUCCESS, version=1))

    plugin.handle = handle


def array_events(stack: Any, name: str) -> list[Any]:
    return [e for e in stack.admin.task_events if e.parent_node_execution_id.execution_id.name == name]


def admin_resources(events: list[Any]) -> list[Any]:
    """The sub-tasks admin lists after ``events``: each event carries the sub-task attempts that changed in its
    round (as Flyte's array event recorder does), merged by (index, retry attempt), the later event winning."""
    merged: dict[tuple[int, int], Any] = {}
    for event in events:
        for resource in event.metadata.external_resources:
            key = (resource.index, resource.retry_attempt)
            if key in merged and not resource.logs:
                resource.logs.extend(merged[key].logs)
            merged[key] = resource
    return [merged[key] for key in sorted(merged)]


def with_array(**fields: Any) -> Any:
    def mutate(closure: compiler_pb2.CompiledWorkflowClosure) -> None:
        array = next(node for node in closure.primary.template.nodes if node.HasField("array_node")).array_node
        for key, value in fields.items():
            if key == "retries":
                array.node.metadata.retries.retries = value
            else:
                setattr(array, key, value)

    return mutate


async def test_map_task_gathers_outputs_in_order_with_array_events(stack: Any) -> None:
    run_map_elements(stack.plugin)
    execution_id = await stack.create("map_task", {"xs": [3, 1, 4, 1, 5]})
    status = await stack.wait(execution_id)
    assert status.phase == WF.SUCCEEDED, status
    assert await stack.outputs(execution_id) == {"o0": [9, 1, 16, 1, 25]}
    node_events = [e for e in stack.admin.node_events if e.id.execution_id.name == execution_id.name]
    assert {e.id.node_id for e in node_events} == {"n0"}  # sub-nodes are task executions, not node executions
    assert all(e.is_array for e in node_events)
    assert [e.phase for e in node_events] == [NODE.QUEUED, NODE.RUNNING, NODE.SUCCEEDED]
    events = array_events(stack, execution_id.name)
    last = events[-1]
    assert last.phase == TASK.SUCCEEDED and last.output_uri.endswith("/n0/0/outputs.pb")
    resources = admin_resources(events)
    assert [r.index for r in resources] == [0, 1, 2, 3, 4]
    assert {r.phase for r in resources} == {TASK.SUCCEEDED}
    assert len({r.external_id for r in resources}) == 5
    # Each event carries what changed in its round: every element's success is reported once, not every round.
    reported = sorted(r.index for e in events for r in e.metadata.external_resources if r.phase == TASK.SUCCEEDED)
    assert reported == [0, 1, 2, 3, 4]
    assert [e.phase_version for e in events] == sorted({e.phase_version for e in events})
    assert len(stack.plugin.starts()) == 5


async def test_sub_task_retries_on_its_own(stack: Any) -> None:
    run_map_elements(stack.plugin, fail_attempts={2: 1})
    execution_id = await stack.create("map_task", {"xs": [1, 2, 3]}, mutate=with_array(retries=1))
    status = await stack.wait(execution_id)
    assert status.phase == WF.SUCCEEDED, status
    assert await stack.outputs(execution_id) == {"o0": [1, 4, 9]}
    resources = admin_resources(array_events(stack, execution_id.name))
    held = [(r.index, r.retry_attempt, r.phase) for r in resources]
    assert held == [
        (0, 0, TASK.SUCCEEDED),
        (1, 0, TASK.SUCCEEDED),
        (2, 0, TASK.RETRYABLE_FAILED),
        (2, 1, TASK.SUCCEEDED),
    ]
    assert sub_task_error(resources[2]) == {
        "code": "USER:ValueError",
        "message": "element 2 attempt 0 failed",
        "kind": "USER",
    }
    assert len(stack.plugin.starts()) == 4


def sub_task_error(resource: Any) -> dict[str, Any] | None:
    return dict(resource.custom_info["error"]) if "error" in resource.custom_info else None


async def test_every_failed_sub_task_attempt_reports_its_error(stack: Any) -> None:
    """Sub-task attempts are external resources (index, retry_attempt); the pinned flyteidl gives them no error
    field, so each failed attempt's error is in its custom_info, and the array fails with Flyte's collector summary
    of the failed indexes (``[1][3]: message``)."""
    run_map_elements(stack.plugin, fail_attempts={1: 1, 3: 1}, broken={1, 3})
    execution_id = await stack.create("map_task", {"xs": [1, 2, 3, 4]}, mutate=with_array(retries=1))
    status = await stack.wait(execution_id)
    assert status.phase == WF.FAILED
    events = array_events(stack, execution_id.name)
    last = events[-1]
    assert last.phase == TASK.FAILED
    assert last.error.message == "[1][3]: bad element\n" == status.error.message
    failed = [
        (r.index, r.retry_attempt, r.phase, (sub_task_error(r) or {}).get("message"))
        for r in admin_resources(events)
        if r.phase in (TASK.RETRYABLE_FAILED, TASK.FAILED)
    ]
    assert failed == [
        (1, 0, TASK.RETRYABLE_FAILED, "element 1 attempt 0 failed"),
        (1, 1, TASK.FAILED, "bad element"),
        (3, 0, TASK.RETRYABLE_FAILED, "element 3 attempt 0 failed"),
        (3, 1, TASK.FAILED, "bad element"),
    ]


async def test_failure_without_min_success_fails_with_partial_report(stack: Any) -> None:
    run_map_elements(stack.plugin, broken={1})
    execution_id = await stack.create("map_task", {"xs": [1, 2, 3]})
    status = await stack.wait(execution_id)
    assert status.phase == WF.FAILED
    assert status.error.message == "[1]: bad element\n"  # Flyte's collector summary
    events = array_events(stack, execution_id.name)
    assert events[-1].phase == TASK.FAILED
    assert TASK.FAILED in {r.phase for r in admin_resources(events)}


async def test_min_success_ratio_tolerates_failures_with_none_outputs(stack: Any) -> None:
    run_map_elements(stack.plugin, broken={1})
    execution_id = await stack.create("map_task", {"xs": [1, 2, 3, 4]}, mutate=with_array(min_success_ratio=0.75))
    status = await stack.wait(execution_id)
    assert status.phase == WF.SUCCEEDED, status
    assert await stack.outputs(execution_id) == {"o0": [1, None, 9, 16]}
    too_many = await stack.create("map_task", {"xs": [1, 2, 3, 4]}, mutate=with_array(min_successes=4))
    assert (await stack.wait(too_many)).phase == WF.FAILED


async def test_parallelism_bounds_running_sub_tasks(stack: Any) -> None:
    run_map_elements(stack.plugin, duration=0.3)
    execution_id = await stack.create("map_task", {"xs": [1, 2, 3, 4, 5]}, mutate=with_array(parallelism=2))
    status = await stack.wait(execution_id)
    assert status.phase == WF.SUCCEEDED, status
    assert await stack.outputs(execution_id) == {"o0": [1, 4, 9, 16, 25]}
    assert stack.plugin.max_active == 2


async def test_empty_list_succeeds_with_empty_outputs(stack: Any) -> None:
    run_map_elements(stack.plugin)
    execution_id = await stack.create("map_task", {"xs": []})
    assert (await stack.wait(execution_id)).phase == WF.SUCCEEDED
    assert await stack.outputs(execution_id) == {"o0": []}
    assert stack.plugin.starts() == []


async def test_large_map_keeps_one_compact_node_state(stack: Any) -> None:
    run_map_elements(stack.plugin)
    xs = list(range(300))
    execution_id = await stack.create("map_task", {"xs": xs})
    status = await stack.wait(execution_id, deadline=120)
    assert status.phase == WF.SUCCEEDED, status
    assert await stack.outputs(execution_id) == {"o0": [x * x for x in xs]}
    node_ids = {e.id.node_id for e in stack.admin.node_events if e.id.execution_id.name == execution_id.name}
    assert node_ids == {"n0"}
    assert len(stack.plugin.starts()) == 300


async def test_abort_aborts_running_sub_tasks(stack: Any) -> None:
    run_map_elements(stack.plugin, duration=600.0)
    execution_id = await stack.create("map_task", {"xs": [1, 2, 3]}, mutate=with_array(parallelism=2))
    while len(stack.plugin.starts()) < 2:
        await asyncio.sleep(0.05)
    await stack.client.AbortExecution(dataplane_pb2.AbortExecutionRequest(id=execution_id, cause="stop the map"))
    status = await stack.wait(execution_id)
    assert status.phase == WF.ABORTED and status.abort_cause == "stop the map"
    assert stack.plugin.aborted() == [f"{execution_id.name}-n0-0-0-0", f"{execution_id.name}-n0-0-1-0"]
    assert stack.admin.node_phases(execution_id.name, "n0")[-1] == NODE.ABORTED
    last = array_events(stack, execution_id.name)[-1]
    assert last.phase == TASK.ABORTED
    assert [(r.index, r.phase) for r in last.metadata.external_resources] == [(0, TASK.ABORTED), (1, TASK.ABORTED)]


async def test_sub_task_timeout_is_per_attempt_and_retried(stack: Any) -> None:
    run_map_elements(stack.plugin, duration=600.0)

    def short_timeout(closure: compiler_pb2.CompiledWorkflowClosure) -> None:
        for task in closure.tasks:
            task.template.metadata.timeout.FromMilliseconds(300)
        with_array(retries=1)(closure)

    execution_id = await stack.create("map_task", {"xs": [1]}, mutate=short_timeout)
    status = await stack.wait(execution_id)
    assert status.phase == WF.FAILED
    assert "timed out" in status.error.message and status.error.code == "ArrayNodeFailed"
    assert stack.plugin.starts() == [f"{execution_id.name}-n0-0-0-0", f"{execution_id.name}-n0-0-0-1"]
    assert stack.plugin.aborted() == stack.plugin.starts()


@pytest.mark.parametrize("store_url", ["sqlite", "postgres"], indirect=True)
async def test_restart_mid_map_never_runs_a_sub_task_twice(stack: Any) -> None:
    run_map_elements(stack.plugin, duration=0.2)
    xs = list(range(40))
    execution_id = await stack.create("map_task", {"xs": xs}, mutate=with_array(parallelism=8))
    for _ in range(3):
        await asyncio.sleep(0.3)
        await stack.stop()  # cancelled wherever it is: mid-round, mid-persist, mid-delivery
        await stack.start()
    status = await stack.wait(execution_id)
    assert status.phase == WF.SUCCEEDED, status
    assert await stack.outputs(execution_id) == {"o0": [x * x for x in xs]}
    starts = stack.plugin.starts()
    assert len(starts) == 40 and len(set(starts)) == 40
    assert stack.admin.node_phases(execution_id.name, "n0") == [NODE.QUEUED, NODE.RUNNING, NODE.SUCCEEDED]


async def test_array_over_a_non_task_node_fails_clearly(stack: Any) -> None:
    def over_a_gate(closure: compiler_pb2.CompiledWorkflowClosure) -> None:
        array = next(node for node in closure.primary.template.nodes if node.HasField("array_node")).array_node
        array.node.gate_node.sleep.duration.FromSeconds(1)

    execution_id = await stack.create("map_task", {"xs": [1]}, mutate=over_a_gate)
    status = await stack.wait(execution_id)
    assert status.phase == WF.FAILED
    assert status.error.code == "UnsupportedArrayNode" and "gate_node" in status.error.message


def test_a_state_written_before_settling_loads_and_settles() -> None:
    """States stored before finished elements were settled (every element's logs and start time kept, retried
    attempts kept for every event) load as they are; a reported element then drops what only its attempt needed."""
    stored = {
        "size": 2,
        "phases": [SubPhase.SUCCEEDED, SubPhase.RUNNING],
        "attempts": [0, 1],
        "system_failures": [0, 0],
        "task_phases": [int(Phase.SUCCESS), int(Phase.RUNNING)],
        "event_version": 4,
        "last_event": [int(TASK.RUNNING)],
        "plugin_states": {"1": "cnVubmluZw=="},
        "errors": {"1": ["USER:ValueError", "element 1 attempt 0 failed", "USER"]},
        "logs": {"0": [["stdout", "file:///0"]], "1": [["stdout", "file:///1"]]},
        "started_at": {"0": 1.0, "1": 2.0},
        "cache_statuses": {},
        "retried_attempts": {"1:0": {"error": ["USER:ValueError", "element 1 attempt 0 failed", "USER"], "logs": []}},
    }
    state = ArrayState.decode(json.dumps(stored).encode())
    assert state is not None and state.size == 2 and state.count(SubPhase.RUNNING) == 1 and not state.all_terminal()
    state.settle(0)
    assert state.logs == {"1": [["stdout", "file:///1"]]} and state.started_at == {"1": 2.0}
    assert state.plugin_states == {"1": "cnVubmluZw=="} and "1:0" in state.retried_attempts
    assert ArrayState.decode(state.encode()) == state
