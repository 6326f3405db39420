"""Acceptance for `aloft up`: every service SERVING with /metrics, a clean Ctrl-C, and failures that say why."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

pytestmark = pytest.mark.e2e

SERVICES = ("datacatalog", "admin", "propeller", "scheduler")


def serving(port: int) -> bool:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def gone_soon(pids: list[int], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    return not any(alive(p) for p in pids)


def assert_up_and_metrics(ports: dict[str, tuple[int, int]]) -> None:
    for name, (grpc_port, http_port) in ports.items():
        assert serving(grpc_port), f"{name} is not SERVING on {grpc_port}"
        metrics = httpx.get(f"http://127.0.0.1:{http_port}/metrics", timeout=10)
        assert metrics.status_code == 200, name
        assert "# TYPE" in metrics.text, name


def test_the_whole_stack_comes_up_serves_metrics_and_stops_on_ctrl_c(
    start_stack: Callable[..., Any], service_cli_ready: Callable[[str], bool]
) -> None:
    placeholders = [name for name in SERVICES if not service_cli_ready(name)]
    assert not placeholders, f"aloft-{', aloft-'.join(placeholders)}: no 'serve' command"
    run = start_stack(SERVICES)
    run.wait_for_line("Press Ctrl-C to stop.")
    children = children_of(run.process.pid)
    assert len(children) == len(SERVICES)
    assert_up_and_metrics(run.ports)
    banner = "".join(run.output)
    assert f"endpoint: dns:///localhost:{run.ports['admin'][0]}" in banner
    code, _ = run.interrupt()
    assert code == 0
    assert gone_soon(children)


def test_a_subset_of_services_and_a_clean_stop(start_stack: Callable[..., Any]) -> None:
    run = start_stack(("admin",))
    run.wait_for_line("Press Ctrl-C to stop.")
    (admin_pid,) = children_of(run.process.pid)
    assert_up_and_metrics(run.ports)
    assert (run.data_dir / "logs" / "admin.log").read_text().count("serving gRPC") == 1
    code, stderr = run.interrupt()
    assert code == 0, stderr
    assert gone_soon([admin_pid])


def test_a_child_that_dies_stops_the_stack_with_a_report(start_stack: Callable[..., Any]) -> None:
    run = start_stack(("admin",))
    run.wait_for_line("Press Ctrl-C to stop.")
    (admin_pid,) = children_of(run.process.pid)
    os.kill(admin_pid, signal.SIGKILL)
    _, stderr = run.process.communicate(timeout=60)
    assert run.process.returncode == 1
    assert "admin exited (signal SIGKILL)" in stderr
    assert "stopping the stack" in stderr


def test_a_service_that_cannot_start_is_named_with_its_log(start_stack: Callable[..., Any]) -> None:
    """admin's HTTP port is taken (set through an env override, which aloft and admin both honour)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = start_stack(("admin",), env={"ALOFT__ADMIN__HTTPPORT": str(port)})
        _, stderr = run.process.communicate(timeout=120)
    assert run.process.returncode == 1
    assert "admin failed to start" in stderr
    assert f"aloft-admin: admin: cannot bind HTTP port 127.0.0.1:{port}" in stderr
    assert "Traceback" not in stderr
