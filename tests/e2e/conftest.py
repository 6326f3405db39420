"""End-to-end harness: the real services as processes, driven by unmodified flytekit from its own virtualenv.

The stack (datacatalog, admin, propeller) starts once per session on free ports with a temporary data directory,
embedded defaults (SQLite, local blob store, local-process tasks). flytekit runs from the virtualenv named by
$ALOFT_FLYTEKIT_VENV, else <repo>/.venv-flytekit (made by `make setup`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

REPO = Path(__file__).resolve().parents[2]
E2E_DIR = Path(__file__).resolve().parent
SERVICES = ("datacatalog", "admin", "propeller", "scheduler")


def flytekit_venv() -> Path:
    candidates = [os.environ.get("ALOFT_FLYTEKIT_VENV", ""), str(REPO / ".venv-flytekit")]
    for candidate in candidates:
        if candidate and (Path(candidate) / "bin" / "pyflyte").exists():
            return Path(candidate)
    pytest.fail("no flytekit virtualenv: run `make setup` (creates .venv-flytekit) or set ALOFT_FLYTEKIT_VENV")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serving(port: int) -> bool:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


@dataclass
class Stack:
    root: Path
    config_file: Path
    flyte_config: Path
    ports: dict[str, int]
    venv: Path
    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, extra_env: dict[str, str] | None = None) -> None:
        exe = Path(sys.executable).parent / f"aloft-{name}"
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child process
        env = {**os.environ, "ALOFT_FLYTEKIT_VENV": str(self.venv), **(extra_env or {})}
        self.procs[name] = subprocess.Popen(
            [str(exe), "--config", str(self.config_file), "serve"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.root,
            env=env,
        )
        self.wait_serving(name)

    def wait_serving(self, name: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        port = self.ports[f"{name}_grpc"]
        while time.monotonic() < deadline:
            proc = self.procs[name]
            if proc.poll() is not None:
                raise RuntimeError(f"aloft-{name} exited with {proc.returncode}:\n{self.log_tail(name)}")
            if _serving(port):
                return
            time.sleep(0.2)
        raise RuntimeError(f"aloft-{name} not SERVING on {port} after {timeout}s:\n{self.log_tail(name)}")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(sig)
        proc.wait(30)

    def stop_all(self) -> None:
        for name in reversed(list(self.procs)):
            proc = self.procs[name]
            proc.send_signal(signal.SIGTERM)
        for proc in list(self.procs.values()):
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.procs.clear()

    def log_tail(self, name: str, lines: int = 60) -> str:
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def pyflyte(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.venv / "bin" / "pyflyte"), "--config", str(self.flyte_config), *args],
            cwd=E2E_DIR,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def driver(self, *args: str, timeout: float = 300) -> dict[str, Any]:
        result = subprocess.run(
            [str(self.venv / "bin" / "python"), str(E2E_DIR / "driver.py"), "--config", str(self.flyte_config), *args],
            cwd=E2E_DIR,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise AssertionError(
                f"driver {args} failed ({result.returncode}):\n{result.stderr[-4000:]}\n"
                f"--- admin log ---\n{self.log_tail('admin')}\n--- propeller log ---\n{self.log_tail('propeller')}"
            )
        return json.loads(result.stdout.strip().splitlines()[-1])


def _write_configs(
    root: Path, ports: dict[str, int], venv: Path, storage: dict[str, Any] | None = None
) -> tuple[Path, Path]:
    """The stack's config (embedded local blob store unless ``storage`` gives another section) and flytekit's."""
    config = {
        "stack": {"dataDir": str(root / "data")},
        "admin": {
            "grpcPort": ports["admin_grpc"],
            "httpPort": ports["admin_http"],
            "dataPlanes": [{"name": "default", "endpoint": f"127.0.0.1:{ports['propeller_grpc']}"}],
        },
        "datacatalog": {"grpcPort": ports["datacatalog_grpc"], "httpPort": ports["datacatalog_http"]},
        "propeller": {
            "grpcPort": ports["propeller_grpc"],
            "httpPort": ports["propeller_http"],
            "adminEndpoint": f"127.0.0.1:{ports['admin_grpc']}",
            "datacatalogEndpoint": f"127.0.0.1:{ports['datacatalog_grpc']}",
            "workers": 8,
            "workflow-reeval-duration": "1s",
            "downstream-eval-duration": "1s",
        },
        "scheduler": {
            "grpcPort": ports["scheduler_grpc"],
            "httpPort": ports["scheduler_http"],
            "adminEndpoint": f"127.0.0.1:{ports['admin_grpc']}",
        },
        "storage": storage
        or {
            "type": "local",
            "signedUrl": {"baseUrl": f"http://127.0.0.1:{ports['admin_http']}/api/v1/blobs"},
        },
    }
    config_file = root / "aloft.yaml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    flyte_config = root / "flytekit.yaml"
    flyte_config.write_text(
        yaml.safe_dump({"admin": {"endpoint": f"dns:///127.0.0.1:{ports['admin_grpc']}", "insecure": True}})
    )
    return config_file, flyte_config


@contextmanager
def running_stack(root: Path, storage: dict[str, Any] | None = None) -> Iterator[Stack]:
    """All SERVICES as processes on free ports under ``root``; stopped on exit."""
    venv = flytekit_venv()
    ports = {f"{svc}_{kind}": _free_port() for svc in SERVICES for kind in ("grpc", "http")}
    config_file, flyte_config = _write_configs(root, ports, venv, storage)
    logs = root / "logs"
    logs.mkdir()
    running = Stack(root, config_file, flyte_config, ports, venv, logs)
    try:
        for name in SERVICES:
            running.start(name)
        yield running
    finally:
        running.stop_all()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest.fixture(scope="module")
def s3_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, str, str]]:
    """A second stack whose blob store is S3 — moto's server mode, an S3 double (no AWS is reachable from tests)
    speaking the real HTTP protocol; yields (stack, endpoint, bucket)."""
    from aloft_testing.s3 import create_bucket, moto_s3_server, s3_storage_section

    with moto_s3_server() as endpoint:
        bucket = create_bucket(endpoint)
        with running_stack(tmp_path_factory.mktemp("s3-stack"), s3_storage_section(endpoint, bucket)) as running:
            yield running, endpoint, bucket


@pytest.fixture(scope="session")
def registered(stack: Stack) -> str:
    """Registers tests/e2e/flows with `pyflyte register` (fast registration); returns the version."""
    version = f"e2e-{uuid.uuid4().hex[:10]}"
    result = stack.pyflyte(
        "register",
        "--project",
        "flytesnacks",
        "--domain",
        "development",
        "--image",
        "ghcr.io/flyteorg/flytekit:py3.11-1.16.31",
        "--version",
        version,
        "flows",
    )
    assert result.returncode == 0, (
        f"pyflyte register failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}\n"
        f"--- admin log ---\n{stack.log_tail('admin')}"
    )
    return version
