"""Launch-plan nodes against propeller's real service and a fake admin (a real in-process gRPC AdminService that
records CreateExecution/TerminateExecution and answers GetExecution with a scripted child closure)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aloft.dataplane.v1 import dataplane_pb2
from flyteidl.admin import execution_pb2 as admin_execution_pb2
from flyteidl.core import execution_pb2, literals_pb2

from aloft_propeller.nodes.launchplan.admin import CHILD_NAME_LENGTH, child_execution_name

_PHASE = execution_pb2.WorkflowExecution


def _int_map(value: int) -> literals_pb2.LiteralMap:
    result = literals_pb2.LiteralMap()
    result.literals["o0"].scalar.primitive.integer = value
    return result


async def _children(
    stack: Any, count: int, deadline: float = 30.0
) -> dict[str, admin_execution_pb2.ExecutionCreateRequest]:
    give_up = time.monotonic() + deadline
    while len(stack.admin.children) < count:
        assert time.monotonic() < give_up, f"only {len(stack.admin.children)} children launched"
        await asyncio.sleep(0.05)
    return dict(stack.admin.children)


def test_child_names_are_deterministic_short_and_per_attempt() -> None:
    name = child_execution_name("parent-exec", "n0", 0)
    assert name == child_execution_name("parent-exec", "n0", 0)
    assert name != child_execution_name("parent-exec", "n0", 1)
    assert name != child_execution_name("parent-exec", "n1", 0)
    assert len(name) == CHILD_NAME_LENGTH and name[0] == "f" and name.isalnum() and name.islower()


async def test_launches_children_follows_them_and_takes_their_outputs(stack: Any) -> None:
    execution_id = await stack.create("launch_plan", {"x": 4}, name="lp-parent")
    children = await _children(stack, 2)
    by_node = {request.spec.metadata.parent_node_execution.node_id: request for request in children.values()}
    assert set(by_node) == {"n0", "n1"}
    first = by_node["n0"]
    assert first.project == "flytesnacks" and first.domain == "development"
    assert first.name == child_execution_name("lp-parent", "n0", 0)
    assert first.spec.launch_plan.name == "inner_lp" and first.spec.launch_plan.version == "v1"
    assert first.spec.metadata.mode == admin_execution_pb2.ExecutionMetadata.CHILD_WORKFLOW
    assert first.spec.metadata.parent_node_execution.execution_id == execution_id
    assert first.inputs.literals["x"].scalar.primitive.integer == 4
    assert by_node["n1"].inputs.literals["x"].scalar.primitive.integer == 3  # the launch plan's default

    # The children are running: the parent waits for them.
    await asyncio.sleep(0.5)
    assert (await stack.status(execution_id)).phase == _PHASE.RUNNING
    for request in children.values():
        x = request.inputs.literals["x"].scalar.primitive.integer
        stack.admin.child_results[request.name] = admin_execution_pb2.ExecutionClosure(
            phase=_PHASE.SUCCEEDED, output_data=_int_map((x + 1) * 2)
        )
    status = await stack.wait(execution_id)
    assert status.phase == _PHASE.SUCCEEDED
    assert await stack.outputs(execution_id) == {"o0": (4 + 1) * 2 + 1}

    # Only events sent after admin accepted the child name it (flytekit fetches the child it names).
    n0_events = [e for e in stack.admin.node_events if e.id.execution_id.name == "lp-parent" and e.id.node_id == "n0"]
    final = n0_events[-1]
    assert final.phase == execution_pb2.NodeExecution.SUCCEEDED
    assert final.workflow_node_metadata.execution_id.name == first.name
    assert not n0_events[0].HasField("workflow_node_metadata")  # QUEUED: nothing launched yet
    assert stack.admin.node_phases("lp-parent", "n0")[-1] == execution_pb2.NodeExecution.SUCCEEDED


async def test_a_failed_child_fails_the_node_with_its_error(stack: Any) -> None:
    execution_id = await stack.create("launch_plan", {"x": 1}, name="lp-fails")
    children = await _children(stack, 2)
    error = execution_pb2.ExecutionError(code="USER:ValueError", message="boom", kind=execution_pb2.ExecutionError.USER)
    for name in children:
        stack.admin.child_results[name] = admin_execution_pb2.ExecutionClosure(phase=_PHASE.FAILED, error=error)
    status = await stack.wait(execution_id)
    assert status.phase == _PHASE.FAILED
    assert status.error.code == "USER:ValueError"
    assert "boom" in status.error.message


async def test_aborting_the_parent_terminates_running_children(stack: Any) -> None:
    execution_id = await stack.create("launch_plan", {"x": 1}, name="lp-aborted")
    children = await _children(stack, 2)
    await stack.client.AbortExecution(dataplane_pb2.AbortExecutionRequest(id=execution_id, cause="user asked"))
    status = await stack.wait(execution_id)
    assert status.phase == _PHASE.ABORTED
    assert set(stack.admin.terminated) == set(children)
    assert all("user asked" in cause for cause in stack.admin.terminated.values())


async def test_a_lost_create_reply_is_retried_and_adopts_the_child(stack: Any) -> None:
    stack.admin.lost_create_responses = 2  # both children are created, but propeller never hears back
    execution_id = await stack.create("launch_plan", {"x": 1}, name="lp-adopt")
    children = await _children(stack, 2)
    await asyncio.sleep(0.5)
    assert set(stack.admin.children) == set(children)  # retries met ALREADY_EXISTS (same names) and adopted
    for name in children:
        stack.admin.child_results[name] = admin_execution_pb2.ExecutionClosure(
            phase=_PHASE.SUCCEEDED, output_data=_int_map(5)
        )
    assert (await stack.wait(execution_id)).phase == _PHASE.SUCCEEDED
    assert await stack.outputs(execution_id) == {"o0": 6}
    assert stack.admin.lost_create_responses == 0


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
async def test_launch_plan_nodes_on_postgres(stack: Any) -> None:
    execution_id = await stack.create("launch_plan", {"x": 2}, name="lp-pg")
    for name in await _children(stack, 2):
        stack.admin.child_results[name] = admin_execution_pb2.ExecutionClosure(
            phase=_PHASE.SUCCEEDED, output_data=_int_map(10)
        )
    assert (await stack.wait(execution_id)).phase == _PHASE.SUCCEEDED
    assert await stack.outputs(execution_id) == {"o0": 11}
