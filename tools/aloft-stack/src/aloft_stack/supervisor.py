"""Run each service as its own process, wait for it to report SERVING, and stop them all together.

Children get their own session so a terminal's Ctrl-C reaches only the supervisor, which then stops them in
reverse start order (SIGTERM, then SIGKILL after a grace period). Nothing is restarted: a child that exits is
reported and the whole stack is stopped with a non-zero exit code.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from aloft_service.parent import parent_death_env
from aloft_stack.config import Endpoint, StackPlan

POLL_INTERVAL = 0.25


class StackError(Exception):
    """The stack could not start or a service failed; the message says which and why."""


def find_executable(name: str) -> str:
    """The service's console script: beside this interpreter (the venv) first, then ``$PATH``."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise StackError(f"{name} is not installed (expected beside {sys.executable} or on PATH); run 'make setup'")
    return found


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log written)"
    tail = text.splitlines()[-lines:]
    return "\n".join(f"    {line}" for line in tail) if tail else "(log is empty)"


def health_status(target: str, timeout: float = 1.0) -> int | None:
    """The overall grpc.health.v1 status of a server, or None when it does not answer."""
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            return int(stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout).status)
        except grpc.RpcError:
            return None


@dataclass
class Child:
    endpoint: Endpoint
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]

    @property
    def name(self) -> str:
        return self.endpoint.spec.name

    def describe_exit(self) -> str:
        code = self.process.returncode
        how = f"signal {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
        return f"{self.name} exited ({how}); last lines of {self.log_path}:\n{log_tail(self.log_path)}"


class Supervisor:
    def __init__(self, plan: StackPlan, startup_timeout: float = 60.0, grace_period: float = 10.0) -> None:
        self.plan = plan
        self.startup_timeout = startup_timeout
        self.grace_period = grace_period
        self.children: list[Child] = []
        self._stop = threading.Event()

    def request_stop(self) -> None:
        self._stop.set()

    def _command(self, endpoint: Endpoint) -> list[str]:
        command = [find_executable(endpoint.spec.executable)]
        if self.plan.config_path is not None:
            command += ["--config", str(self.plan.config_path)]
        return [*command, "serve"]

    def _spawn(self, endpoint: Endpoint) -> Child:
        command = self._command(endpoint)
        self.plan.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.plan.log_dir / f"{endpoint.spec.name}.log"
        log_file = log_path.open("ab")
        log_file.write(f"\n==== {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(command)}\n".encode())
        log_file.flush()
        # No preexec_fn: this process runs gRPC's threads (the health probes), and only a spawn without one is a
        # vfork, which skips gRPC's at-fork handlers; a plain fork can block in them forever. The child arms its
        # own SIGTERM for when this supervisor dies (even by SIGKILL), so no service is orphaned.
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **parent_death_env(signal.SIGTERM)},
        )
        child = Child(endpoint, process, log_path, log_file)
        self.children.append(child)
        return child

    def _wait_serving(self, child: Child) -> None:
        deadline = time.monotonic() + self.startup_timeout
        target = child.endpoint.grpc_target
        while time.monotonic() < deadline:
            if child.process.poll() is not None:
                raise StackError(f"{child.name} failed to start: {child.describe_exit()}")
            if self._stop.is_set():
                raise KeyboardInterrupt
            if health_status(target) == health_pb2.HealthCheckResponse.SERVING:
                return
            self._stop.wait(POLL_INTERVAL)
        raise StackError(
            f"{child.name} did not report SERVING on {target} within {self.startup_timeout:.0f}s; "
            f"last lines of {child.log_path}:\n{log_tail(child.log_path)}"
        )

    def start(self) -> None:
        """Start services in order, each one SERVING before the next starts."""
        for endpoint in self.plan.endpoints:
            find_executable(endpoint.spec.executable)  # every executable exists before anything starts
        for endpoint in self.plan.endpoints:
            self._wait_serving(self._spawn(endpoint))

    def watch(self) -> Child | None:
        """Block until a stop is requested (returns None) or a child exits (returns it)."""
        while not self._stop.is_set():
            for child in self.children:
                if child.process.poll() is not None:
                    return child
            self._stop.wait(POLL_INTERVAL * 2)
        return None

    def stop(self) -> None:
        """SIGTERM every live child in reverse start order, SIGKILL what outlives the grace period."""
        for child in reversed(self.children):
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + self.grace_period
            while child.process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            if child.process.poll() is None:
                print(f"aloft: {child.name} did not stop within {self.grace_period:.0f}s; killing it", file=sys.stderr)
                child.process.kill()
                child.process.wait()
            child.log_file.close()
