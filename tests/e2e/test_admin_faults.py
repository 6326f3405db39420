"""Admin faults on the real stack: a kill -9 between an execution's commit and its hand-off, and admin stopped
while workflows run on the real propeller, until the tasks that started have ended. Nothing is lost, nothing stays
queued, no attempt runs twice."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest
from aloft.dataplane.v1 import dataplane_pb2, dataplane_pb2_grpc
from flyteidl.admin import execution_pb2, node_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.service import admin_pb2_grpc

pytestmark = [pytest.mark.e2e, pytest.mark.flytekit]

SUCCEEDED = 4
PROJECT, DOMAIN = "flytesnacks", "development"
CRASH_AT_ENV, AFTER_EXECUTION_COMMIT = "ALOFT_ADMIN_CRASH_AT", "after-execution-commit"
PAUSE_AT_ENV, PAUSE_DIR_ENV = "ALOFT_ADMIN_PAUSE_AT", "ALOFT_ADMIN_PAUSE_DIR"
AFTER_HANDOFF_CREATE = "after-handoff-create"
ABORTED = 7  # flyteidl.core.WorkflowExecution.Phase
# How long admin stays stopped while workflows run (at least; ALOFT_E2E_ADMIN_OUTAGE=60 for a minute as before).
ADMIN_OUTAGE = float(os.environ.get("ALOFT_E2E_ADMIN_OUTAGE", "10"))
POSTPONED = re.compile(r"round for \S+ postponed")  # aloft_propeller.controller's warning while admin is away


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


def _counted_request(
    registered: str, name: str, marker_dir: Path, key: str = ""
) -> execution_pb2.ExecutionCreateRequest:
    """counted_wf appends a line to <marker_dir>/<key>.attempts (key: the name) in every attempt that ran."""
    lp = identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN,
        project=PROJECT,
        domain=DOMAIN,
        name="flows.basics.counted_wf",
        version=registered,
    )
    return execution_pb2.ExecutionCreateRequest(
        project=PROJECT,
        domain=DOMAIN,
        name=name,
        spec=execution_pb2.ExecutionSpec(launch_plan=lp),
        inputs=literals_pb2.LiteralMap(literals={"marker_dir": _string(str(marker_dir)), "key": _string(key or name)}),
    )


def _wait_for_file(path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear in {timeout}s")
        time.sleep(0.05)


def test_terminate_during_hand_off_never_starts_a_task(stack: Any, registered: str, tmp_path: Path) -> None:
    """Admin paused (fault-injection point) after the data plane acknowledged the hand-off's create and before admin
    committed it; a TerminateExecution lands in that window. The data plane holds the run (two-phase hand-off), so
    no node and no task process ever starts, and the run ends ABORTED on the data plane with the terminate's cause."""
    pause_dir, markers = tmp_path / "pause", tmp_path / "markers"
    pause_dir.mkdir()
    _restart_admin(stack, {PAUSE_AT_ENV: AFTER_HANDOFF_CREATE, PAUSE_DIR_ENV: str(pause_dir)})
    channel, admin = _admin(stack)
    dataplane_channel = grpc.insecure_channel(f"127.0.0.1:{stack.ports['propeller_grpc']}")
    dataplane = dataplane_pb2_grpc.DataPlaneServiceStub(dataplane_channel)
    wid = identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name="terminated-in-handoff")
    try:
        with ThreadPoolExecutor(1) as pool:
            created = pool.submit(admin.CreateExecution, _counted_request(registered, wid.name, markers), timeout=120)
            _wait_for_file(pause_dir / f"{AFTER_HANDOFF_CREATE}.reached", 60)
            held = dataplane.GetExecutionStatus(dataplane_pb2.GetExecutionStatusRequest(id=wid), timeout=10)
            assert held.held and not [n for n in held.nodes if n.attempts], held  # on the data plane, not started
            admin.TerminateExecution(execution_pb2.ExecutionTerminateRequest(id=wid, cause="stop it"), timeout=30)
            (pause_dir / f"{AFTER_HANDOFF_CREATE}.release").touch()
            assert created.result(timeout=120).id == wid
        deadline = time.monotonic() + 120
        status = held
        while status.phase != ABORTED and time.monotonic() < deadline:
            time.sleep(0.2)
            status = dataplane.GetExecutionStatus(dataplane_pb2.GetExecutionStatusRequest(id=wid), timeout=10)
        assert status.phase == ABORTED and status.abort_cause == "stop it" and not status.held, status
        assert not [n for n in status.nodes if n.attempts], status
        assert not markers.exists(), "a task process started"  # count_attempt creates it first thing
        execution = admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=wid), timeout=10)
        assert execution.closure.phase == ABORTED and execution.closure.abort_metadata.cause == "stop it"
        listed = admin.ListNodeExecutions(
            node_execution_pb2.NodeExecutionListRequest(workflow_execution_id=wid, limit=10), timeout=10
        )
        assert not listed.node_executions
    finally:
        (pause_dir / f"{AFTER_HANDOFF_CREATE}.release").touch()
        dataplane_channel.close()
        channel.close()
        _restart_admin(stack)


def test_admin_killed_between_commit_and_hand_off_runs_the_execution(
    stack: Any, registered: str, tmp_path: Path
) -> None:
    _restart_admin(stack, {CRASH_AT_ENV: AFTER_EXECUTION_COMMIT})
    channel, admin = _admin(stack)
    try:
        request = _counted_request(registered, "crash-before-handoff", tmp_path, key="handoff")
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


def _tasks_running(marker_dir: Path) -> list[int]:
    """The task processes (pids that count_attempt wrote) still alive; a zombie has ended."""
    pids = [int(line) for path in marker_dir.glob("*.attempts") for line in path.read_text().split()]
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            alive.append(pid)
    return alive


def _postponed(log: Path, offset: int) -> int:
    """Rounds propeller postponed after ``offset`` of its log because admin could not take their events."""
    with log.open("rb") as handle:
        handle.seek(offset)
        return len(POSTPONED.findall(handle.read().decode(errors="replace")))


def test_admin_stopped_while_workflows_run(stack: Any, registered: str, tmp_path: Path) -> None:
    keys = [f"out{i:02d}" for i in range(10)]
    inputs = [{"marker_dir": str(tmp_path), "key": key} for key in keys]
    names = stack.driver("start-many", registered, "counted_wf", json.dumps(inputs))["names"]
    deadline = time.monotonic() + 180
    while len(list(tmp_path.glob("*.attempts"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    propeller_log = stack.logs / "propeller.log"
    stack.kill("admin", signal.SIGTERM)
    # Admin stays down ADMIN_OUTAGE seconds at least, until every task that started has ended, and until propeller
    # has since failed to deliver events again: the tasks' starts and completions wait in its outbox meanwhile.
    down = time.monotonic()
    tasks_ended_at: int | None = None  # the log's size once no task process is left
    while (
        tasks_ended_at is None
        or time.monotonic() - down < ADMIN_OUTAGE
        or not _postponed(propeller_log, tasks_ended_at)
    ):
        assert time.monotonic() - down < 180, (
            f"tasks still running 180 s after admin stopped: {_tasks_running(tmp_path)}"
        )
        if _tasks_running(tmp_path):  # a workflow's first round may still launch its task while admin is away
            tasks_ended_at = None
        elif tasks_ended_at is None:
            tasks_ended_at = propeller_log.stat().st_size
        time.sleep(0.5)
    stack.start("admin")
    results = stack.driver("wait-many", ",".join(names), "--timeout", "400", timeout=600)["results"]
    assert [r["phase"] for r in results] == [SUCCEEDED] * len(keys), results
    for key in keys:
        lines = (tmp_path / f"{key}.attempts").read_text().splitlines()
        assert len(lines) == 1, f"{key} ran {len(lines)} times"
