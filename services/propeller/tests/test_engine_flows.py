"""The engine end to end on real components (DataPlaneService over gRPC, controller, SQL store, blob store,
admin event sink to an in-process AdminService), with flytekit-serialized workflows and the scripted plugin."""

from __future__ import annotations

from typing import Any

from flyteidl.core import execution_pb2

WF = execution_pb2.WorkflowExecution
NODE = execution_pb2.NodeExecution
TASK = execution_pb2.TaskExecution


async def test_chain_runs_to_success_with_outputs(stack: Any) -> None:
    execution_id = await stack.create("chain", {"x": 3})
    status = await stack.wait(execution_id)
    assert status.phase == WF.SUCCEEDED
    assert await stack.outputs(execution_id) == {"o0": "8"}  # to_str(double(add_one(3)))
    assert stack.admin.workflow_phases(execution_id.name) == [WF.RUNNING, WF.SUCCEEDED]
    for node_id in ("n0", "n1", "n2"):
        assert stack.admin.node_phases(execution_id.name, node_id) == [NODE.QUEUED, NODE.RUNNING, NODE.SUCCEEDED]
    succeeded = [e for e in stack.admin.node_events if e.phase == NODE.SUCCEEDED and e.id.node_id == "n2"]
    assert succeeded[0].output_uri.endswith("/n2/0/outputs.pb")
    assert succeeded[0].spec_node_id == "n2" and succeeded[0].input_uri.endswith("/n2/inputs.pb")
    assert len(stack.plugin.starts()) == 3


async def test_conditional_takes_each_branch(stack: Any) -> None:
    cases = {-5: -4, 3: 6, 12: 144}  # if x < 0: add_one; elif 0 <= x < 10: double; else: square
    ids = {x: await stack.create("conditional", {"x": x}) for x in cases}
    for x, expected in cases.items():
        status = await stack.wait(ids[x])
        assert status.phase == WF.SUCCEEDED, status
        assert await stack.outputs(ids[x]) == {"o0": expected}
    taken = {
        x: sorted(e.spec_node_id for e in stack.admin.node_events if e.id.execution_id.name == ids[x].name)
        for x in cases
    }
    assert "n0-n0" in taken[-5] and "n0-n1" not in taken[-5]
    assert "n0-n1" in taken[3] and "n0-n0" not in taken[3]
    assert "n0-n2" in taken[12]
    child = next(
        e for e in stack.admin.node_events if e.id.execution_id.name == ids[3].name and e.spec_node_id == "n0-n1"
    )
    assert child.id.node_id == "n0-0-n0-n1" and child.parent_node_metadata.node_id == "n0"
    parent = next(e for e in stack.admin.node_events if e.id.execution_id.name == ids[3].name and e.id.node_id == "n0")
    assert parent.is_parent


async def test_conditional_fail_branch_fails_with_message(stack: Any) -> None:
    execution_id = await stack.create("conditional_fail", {"x": -1})
    status = await stack.wait(execution_id)
    assert status.phase == WF.FAILED
    assert "x must be positive" in status.error.message
    ok = await stack.create("conditional_fail", {"x": 2})
    assert (await stack.wait(ok)).phase == WF.SUCCEEDED
    assert await stack.outputs(ok) == {"o0": 4}


async def test_subworkflow_runs_inline(stack: Any) -> None:
    execution_id = await stack.create("subworkflow", {"x": 2})
    status = await stack.wait(execution_id)
    assert status.phase == WF.SUCCEEDED
    assert await stack.outputs(execution_id) == {"o0": 36}  # square(double(add_one(2)))
    paths = {node.node_id for node in status.nodes}
    assert {"n0", "n0-0-n0", "n0-0-n1", "n1"} <= paths
    inner = [e for e in stack.admin.node_events if e.id.node_id == "n0-0-n1"]
    assert inner and all(e.parent_node_metadata.node_id == "n0" and e.retry_group == "0" for e in inner)


async def test_dataclass_attribute_access(stack: Any) -> None:
    execution_id = await stack.create("dataclass", {"x": 7})
    status = await stack.wait(execution_id)
    assert status.phase == WF.SUCCEEDED, status
    assert await stack.outputs(execution_id) == {"o0": "p(7,1.0)"}
    use_x = next(n for n in status.nodes if n.node_id == "n1")
    assert use_x.phase == NODE.SUCCEEDED


async def test_task_error_fails_workflow_with_message(stack: Any) -> None:
    execution_id = await stack.create("failure_node", {"x": 1})
    status = await stack.wait(execution_id)
    assert status.phase == WF.FAILED
    assert "ValueError(1)" in status.error.message and status.error.kind == execution_pb2.ExecutionError.USER
    failed = [e for e in stack.admin.workflow_events if e.execution_id.name == execution_id.name][-1]
    assert failed.phase == WF.FAILED and "ValueError(1)" in failed.error.message
    # flytekit's on_failure handler node ran before the workflow was marked FAILED.
    assert stack.admin.workflow_phases(execution_id.name) == [WF.RUNNING, WF.FAILING, WF.FAILED]
    assert any(e.spec_node_id == "fn0" or "cleanup" in e.node_name for e in stack.admin.node_events)


async def test_transition_latency_is_observed_once_per_started_node(stack: Any) -> None:
    """Flyte's transition latency: one observation per node started, from its upstream's end (the start node's for
    the first), none for nodes that only change phase afterwards."""
    from prometheus_client import REGISTRY

    def observed() -> tuple[float, float]:
        count = sum_ms = 0.0
        for family in REGISTRY.collect():
            if family.name != "flyte:propeller:all:node:transition_latency_ms":
                continue
            for sample in family.samples:
                if sample.name.endswith("_count"):
                    count += sample.value
                elif sample.name.endswith("_sum"):
                    sum_ms += sample.value
        return count, sum_ms

    before = observed()
    execution_id = await stack.create("chain", {"x": 4})
    assert (await stack.wait(execution_id)).phase == WF.SUCCEEDED
    count, sum_ms = observed()
    assert count - before[0] == 3  # n0, n1, n2
    assert sum_ms >= before[1]


async def test_metrics_use_flyte_names(stack: Any) -> None:
    import httpx

    execution_id = await stack.create("chain", {"x": 1})
    await stack.wait(execution_id)
    async with httpx.AsyncClient() as client:
        body = (await client.get(f"http://127.0.0.1:{stack.running.http_port}/metrics")).text
    for name in (
        "flyte:propeller:all:round:round_latency",
        "flyte:propeller:all:free_workers_count",
        "flyte:propeller:all:main_depth",
        "flyte:propeller:all:workflow:acceptance_latency_ms",
        "flyte:propeller:all:workflow:completion_latency_ms",
        "flyte:propeller:all:node:queueing_latency_ms",
        "flyte:propeller:all:node:success_duration_ms",
        "flyte:propeller:all:node:transition_latency_ms",
    ):
        assert name in body, name
    assert 'project="flytesnacks",wf="' in body
