"""Run an Aloft service as a real process for tests: through its console script, on free ports, until healthy.

Tests that need another service start it this way rather than importing its package (services talk only over
their APIs).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc


def wait_grpc_serving(endpoint: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    """Block until ``endpoint`` reports SERVING; fail with the log if the process exits or never gets there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited ({process.returncode}):\n{log.read_text()}")
        # A fresh channel each time: a channel refused while the server starts backs off its reconnects (1 s,
        # 1.6 s, 2.6 s ...) and would notice SERVING seconds late.
        with grpc.insecure_channel(endpoint) as channel:
            try:
                status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1).status
            except grpc.RpcError:
                status = None
        if status == health_pb2.HealthCheckResponse.SERVING:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{process.args!r} did not become healthy within {timeout}s:\n{log.read_text()}")


@contextmanager
def run_service(service: str, config: dict[str, Any], root: Path, grpc_port: int) -> Iterator[str]:
    """Start ``aloft-<service> --config <root>/aloft.yaml serve``; yields ``127.0.0.1:<grpc_port>``."""
    config_file = root / "aloft.yaml"
    config_file.write_text(yaml.safe_dump(config))
    log = root / f"{service}.log"
    executable = Path(sys.executable).parent / f"aloft-{service}"
    with log.open("wb") as out:
        process = subprocess.Popen([str(executable), "--config", str(config_file), "serve"], stdout=out, stderr=out)
    endpoint = f"127.0.0.1:{grpc_port}"
    try:
        wait_grpc_serving(endpoint, process, log)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
