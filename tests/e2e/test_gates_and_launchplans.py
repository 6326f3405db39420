"""Launch-plan nodes and gate nodes end to end: unmodified flytekit registers and runs tests/e2e/flows/
gates_and_launchplans.py against the real admin, propeller and datacatalog processes; gates are released with
FlyteRemote.set_signal (admin's SignalService)."""

from __future__ import annotations

import json
import time
from typing import Any

import grpc
import pytest
from flyteidl.admin import execution_pb2
from flyteidl.core import identifier_pb2
from flyteidl.service import admin_pb2_grpc

from aloft_propeller.nodes.launchplan.admin import child_execution_name

pytestmark = [pytest.mark.e2e, pytest.mark.flytekit]

FLOWS = "flows.gates_and_launchplans"
RUNNING, SUCCEEDED, FAILED, ABORTED = 2, 4, 6, 7


def _admin_execution(stack: Any, name: str) -> execution_pb2.Execution:
    execution_id = identifier_pb2.WorkflowExecutionIdentifier(project="flytesnacks", domain="development", name=name)
    with grpc.insecure_channel(f"127.0.0.1:{stack.ports['admin_grpc']}") as channel:
        request = execution_pb2.WorkflowExecutionGetRequest(id=execution_id)
        return admin_pb2_grpc.AdminServiceStub(channel).GetExecution(request, timeout=5)


def _wait_until_running(stack: Any, name: str, timeout: float = 120) -> None:
    """Until admin has the (child) execution and it is RUNNING."""
    execution_id = identifier_pb2.WorkflowExecutionIdentifier(project="flytesnacks", domain="development", name=name)
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(f"127.0.0.1:{stack.ports['admin_grpc']}") as channel:
        admin = admin_pb2_grpc.AdminServiceStub(channel)
        while time.monotonic() < deadline:
            try:
                execution = admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=execution_id), timeout=5)
                if execution.closure.phase == RUNNING:
                    return
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.NOT_FOUND:
                    raise
            time.sleep(0.5)
    raise AssertionError(f"execution {name} was not RUNNING within {timeout}s")


def test_a_workflow_calling_a_launch_plan(stack: Any, registered: str) -> None:
    result = stack.driver("run", registered, f"{FLOWS}.calls_launch_plan", json.dumps({"x": 3}), "--launch-plan")
    assert result["phase"] == SUCCEEDED, result
    assert result["outputs"] == {"o0": 3 * 10 + 2 * 10}, result
    child_name = child_execution_name(result["name"], "n0", 0)
    child = stack.driver("wait", child_name)
    assert child["phase"] == SUCCEEDED and child["outputs"] == {"o0": 30}, child
    metadata = _admin_execution(stack, child_name).spec.metadata
    assert metadata.mode == execution_pb2.ExecutionMetadata.CHILD_WORKFLOW
    assert metadata.parent_node_execution.node_id == "n0"
    assert metadata.parent_node_execution.execution_id.name == result["name"]
    assert metadata.nesting == 1


def test_a_sleep_gate(stack: Any, registered: str) -> None:
    started = time.monotonic()
    result = stack.driver("run", registered, f"{FLOWS}.sleeps", json.dumps({"x": 5}), "--launch-plan")
    assert result["phase"] == SUCCEEDED, result
    assert result["outputs"] == {"o0": 50}, result
    assert time.monotonic() - started >= 2  # the gate slept at least its duration


def test_signal_and_approve_gates_released_with_set_signal(stack: Any, registered: str) -> None:
    started = stack.driver(
        "run", registered, f"{FLOWS}.waits_for_approval", json.dumps({"x": 4}), "--launch-plan", "--no-wait"
    )
    name = started["name"]
    stack.driver("set-signal", name, "extra", "7")
    stack.driver("set-signal", name, "approve-scaled", "true")
    result = stack.driver("wait", name)
    assert result["phase"] == SUCCEEDED, result
    assert result["outputs"] == {"o0": 4 * 10 + 7}, result


def test_a_gate_timeout_fails_the_execution(stack: Any, registered: str) -> None:
    result = stack.driver("run", registered, f"{FLOWS}.times_out_waiting", json.dumps({"x": 1}), "--launch-plan")
    assert result["phase"] == FAILED, result
    assert "timeout" in (result["error"] or "").lower(), result


def test_terminating_the_parent_aborts_the_child(stack: Any, registered: str) -> None:
    started = stack.driver(
        "run", registered, f"{FLOWS}.calls_held_child", json.dumps({"x": 1}), "--launch-plan", "--no-wait"
    )
    child = child_execution_name(started["name"], "n0", 0)
    _wait_until_running(stack, child)
    stack.driver("terminate", started["name"], "parent stopped by the e2e test")
    parent = stack.driver("wait", started["name"])
    assert parent["phase"] == ABORTED, parent
    child_result = stack.driver("wait", child)
    assert child_result["phase"] == ABORTED, child_result
