"""Admin faults on the real stack: a kill -9 between an execution's commit and its hand-off, and admin stopped for a
minute while workflows run on the real propeller. Nothing is lost, nothing stays queued, no attempt runs twice."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from flyteidl.admin import execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.service import admin_pb2_grpc

pytestmark = [pytest.mark.e2e, pytest.mark.flytekit]

SUCCEEDED = 4
PROJECT, DOMAIN = "flytesnacks", "development"
CRASH_AT_ENV, AFTER_EXECUTION_COMMIT = "ALOFT_ADMIN_CRASH_AT", "after-execution-commit"


def _string(value: str) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value=value)))


def _admin(stack: Any) -> tuple[grpc.Channel, admin_pb2_grpc.AdminServiceStub]:
    channel = grpc.insecure_channel(f"127.0.0.1:{stack.ports['admin_grpc']}")
    return channel, admin_pb2_grpc.AdminServiceStub(channel)


def _wait_for_phase(admin: Any, name: str, phases: set[int], timeout: float) -> execution_pb2.Execution:
    wid = identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name=name)
    deadline = time.monotonic() + timeout
    execution = None
    while time.monotonic() < deadline:
        execution = admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=wid), timeout=10)
        if execution.closure.phase in phases:
            return execution
        time.sleep(0.5)
    raise AssertionError(f"{name} did not reach {phases} in {timeout}s: {execution}")


def _restart_admin(stack: Any, extra_env: dict[str, str] | None = None) -> None:
    proc = stack.procs.pop("admin", None)
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    stack.start("admin", extra_env)


def test_admin_killed_between_commit_and_hand_off_runs_the_execution(
    stack: Any, registered: str, tmp_path: Path
) -> None:
    _restart_admin(stack, {CRASH_AT_ENV: AFTER_EXECUTION_COMMIT})
    channel, admin = _admin(stack)
    try:
        lp = identifier_pb2.Identifier(
            resource_type=identifier_pb2.LAUNCH_PLAN,
            project=PROJECT,
            domain=DOMAIN,
            name="flows.basics.counted_wf",
            version=registered,
        )
        request = execution_pb2.ExecutionCreateRequest(
            project=PROJECT,
            domain=DOMAIN,
            name="crash-before-handoff",
            spec=execution_pb2.ExecutionSpec(launch_plan=lp),
            inputs=literals_pb2.LiteralMap(literals={"marker_dir": _string(str(tmp_path)), "key": _string("handoff")}),
        )
        with pytest.raises(grpc.RpcError) as lost:  # admin died before answering
            admin.CreateExecution(request, timeout=60)
        assert lost.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL)
        assert stack.procs["admin"].wait(30) == -signal.SIGKILL
        _restart_admin(stack)  # no crash point: its repair loop finds the committed, never handed-off row
        channel.close()
        channel, admin = _admin(stack)
        done = _wait_for_phase(admin, "crash-before-handoff", {SUCCEEDED}, 180)
        assert done.closure.phase == SUCCEEDED
        assert len((tmp_path / "handoff.attempts").read_text().splitlines()) == 1
    finally:
        channel.close()


def test_admin_stopped_a_minute_while_workflows_run(stack: Any, registered: str, tmp_path: Path) -> None:
    keys = [f"out{i:02d}" for i in range(10)]
    inputs = [{"marker_dir": str(tmp_path), "key": key} for key in keys]
    names = stack.driver("start-many", registered, "counted_wf", json.dumps(inputs))["names"]
    deadline = time.monotonic() + 180
    while len(list(tmp_path.glob("*.attempts"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    stack.kill("admin", signal.SIGTERM)
    time.sleep(60)  # tasks finish meanwhile; propeller keeps their events until admin answers again
    stack.start("admin")
    results = stack.driver("wait-many", ",".join(names), "--timeout", "400", timeout=600)["results"]
    assert [r["phase"] for r in results] == [SUCCEEDED] * len(keys), results
    for key in keys:
        lines = (tmp_path / f"{key}.attempts").read_text().splitlines()
        assert len(lines) == 1, f"{key} ran {len(lines)} times"
