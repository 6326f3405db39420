"""Run an Aloft service as a real process for tests: through its console script, on free ports, until healthy.

Tests that need another service start it this way rather than importing its package (services talk only over
their APIs).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.3) -> None:
    """Poll ``predicate`` until it is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


async def eventually(predicate: Callable[[], object], timeout: float = 20.0, interval: float = 0.05) -> None:
    """``wait_for`` for a test on an event loop: poll ``predicate`` without blocking the loop."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(interval)
    raise AssertionError("condition not met in time")


def stop_processes(procs: Sequence[subprocess.Popen[bytes]], grace: float = 15) -> None:
    """SIGTERM to each process, the last started first, then wait for all; kill what is still running after
    ``grace`` seconds."""
    for proc in reversed(procs):
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@dataclass(frozen=True)
class GrpcTls:
    """TLS to a gRPC port: the CA certificate to trust and, for mutual TLS, the client's certificate and key."""

    root_cert: Path
    cert: Path | None = None
    key: Path | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        cert, key = (path.read_bytes() if path else None for path in (self.cert, self.key))
        return grpc.ssl_channel_credentials(self.root_cert.read_bytes(), key, cert)


def grpc_channel(endpoint: str, tls: GrpcTls | None = None) -> grpc.Channel:
    """A channel to ``endpoint``: plaintext, or TLS with ``tls``."""
    return grpc.secure_channel(endpoint, tls.credentials()) if tls else grpc.insecure_channel(endpoint)


def wait_grpc_serving(
    endpoint: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60, tls: GrpcTls | None = None
) -> None:
    """Block until ``endpoint`` (over TLS with ``tls``) reports SERVING; fail with the log if the process exits or
    never gets there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited ({process.returncode}):\n{log.read_text()}")
        # A fresh channel each time: a channel refused while the server starts backs off its reconnects (1 s,
        # 1.6 s, 2.6 s ...) and would notice SERVING seconds late.
        with grpc_channel(endpoint, tls) as channel:
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
        stop_processes([process])
