"""Connector scenarios on real processes: flytekit's connector server (`pyflyte serve connector`, unmodified
flytekit from .venv-flytekit, with this directory's custom connector module), then datacatalog, admin and a
propeller whose `connector-service` plugin points at it; workflows registered with `pyflyte register`.

The connector's own Prometheus counters (`flyte_connector_requests_success_total{operation=create|get|delete}`)
tell how often propeller called it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from flyteidl.admin import agent_pb2
from flyteidl.service import agent_pb2_grpc

from aloft_testing.processes import wait_grpc_serving

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SERVICES = ("datacatalog", "admin", "propeller")
IMAGE = "ghcr.io/flyteorg/flytekit:py3.11-1.16.31"
_COUNTER = re.compile(r"^flyte_connector_requests_success_total\{(?P<labels>[^}]*)\} (?P<value>[0-9.e+]+)$", re.M)


def flytekit_venv() -> Path:
    for candidate in (os.environ.get("ALOFT_FLYTEKIT_VENV", ""), str(REPO / ".venv-flytekit")):
        if candidate and (Path(candidate) / "bin" / "pyflyte").exists():
            return Path(candidate)
    pytest.fail("no flytekit virtualenv: run `make setup` (creates .venv-flytekit) or set ALOFT_FLYTEKIT_VENV")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ConnectorStack:
    root: Path
    venv: Path
    ports: dict[str, int]
    config_file: Path
    flyte_config: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def _spawn(self, name: str, argv: list[str], cwd: Path) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("ab") as log:
            env = {**os.environ, "ALOFT_FLYTEKIT_VENV": str(self.venv), "PYTHONUNBUFFERED": "1"}
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, env=env)
        self.procs[name] = proc
        return proc

    def start_connector(self) -> None:
        argv = [
            str(self.venv / "bin" / "pyflyte"),
            "serve",
            "connector",
            "--port",
            str(self.ports["connector"]),
            "--prometheus_port",
            str(self.ports["connector_metrics"]),
            "--modules",
            "flows.squares",
        ]
        proc = self._spawn("connector", argv, HERE)
        # flytekit's server has no health service without grpcio-health-checking: ask its metadata service.
        deadline = time.monotonic() + 90
        with grpc.insecure_channel(f"127.0.0.1:{self.ports['connector']}") as channel:
            stub = agent_pb2_grpc.AgentMetadataServiceStub(channel)
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise RuntimeError(f"pyflyte serve connector exited:\n{self.log_tail('connector')}")
                try:
                    stub.ListAgents(agent_pb2.ListAgentsRequest(), timeout=1)
                    return
                except grpc.RpcError:
                    time.sleep(0.3)
        raise RuntimeError(f"the connector did not answer ListAgents:\n{self.log_tail('connector')}")

    def start(self, name: str) -> None:
        argv = [str(Path(sys.executable).parent / f"aloft-{name}"), "--config", str(self.config_file), "serve"]
        proc = self._spawn(name, argv, self.root)
        wait_grpc_serving(f"127.0.0.1:{self.ports[f'{name}_grpc']}", proc, self.logs / f"{name}.log")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(sig)
        proc.wait(30)

    def stop_all(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.procs.clear()
        self._stop_leftover_clusters()

    def _stop_leftover_clusters(self) -> None:
        """Embedded clusters outlive propeller by design (the next one adopts them); this stack has no next one,
        so the clusters of attempts still running when the session ends are stopped here."""
        for records in (self.root / "data" / "propeller" / "clusters").glob("*/*/processes.jsonl"):
            for line in records.read_text().splitlines():
                if line.strip():
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(json.loads(line)["record"]["pgid"], signal.SIGKILL)

    def log_tail(self, name: str, lines: int = 60) -> str:
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def connector_calls(self, task_type: str, operation: str) -> int:
        """The connector's own count of successful ``operation`` calls for ``task_type``."""
        url = f"http://127.0.0.1:{self.ports['connector_metrics']}/metrics"
        with urllib.request.urlopen(url, timeout=5) as reply:
            text = reply.read().decode()
        total = 0.0
        for match in _COUNTER.finditer(text):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group("labels")))
            if labels.get("task_type") == task_type and labels.get("operation") == operation:
                total += float(match.group("value"))
        return int(total)

    def driver(self, *args: str, timeout: float = 300) -> dict[str, Any]:
        result = subprocess.run(
            [str(self.venv / "bin" / "python"), str(HERE / "driver.py"), "--config", str(self.flyte_config), *args],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise AssertionError(
                f"driver {args} failed ({result.returncode}):\n{result.stderr[-4000:]}\n"
                f"--- propeller log ---\n{self.log_tail('propeller')}\n"
                f"--- connector log ---\n{self.log_tail('connector')}"
            )
        return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _configs(root: Path, ports: dict[str, int]) -> tuple[Path, Path]:
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
            "workers": 4,
            "workflow-reeval-duration": "1s",
            "downstream-eval-duration": "1s",
        },
        "tasks": {"task-plugins": {"enabled-plugins": ["local-process", "connector-service", "dask", "ray"]}},
        "plugins": {
            "connector-service": {
                "defaultConnector": {"endpoint": f"127.0.0.1:{ports['connector']}", "insecure": True},
                "pollInterval": "5s",
                "webApi": {"caching": {"initialPollInterval": "0.2s", "resyncInterval": "1s"}},
            },
            "dask": {"max-workers": 2, "kill-grace-period": "5s"},
            # Three Ray nodes on a small shared machine can take minutes to register with the head.
            "ray": {"max-workers": 2, "kill-grace-period": "10s", "startup-timeout": "420s"},
        },
        "storage": {
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


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConnectorStack]:
    venv = flytekit_venv()
    root = tmp_path_factory.mktemp("connectors")
    (root / "logs").mkdir()
    ports = {f"{svc}_{kind}": _free_port() for svc in SERVICES for kind in ("grpc", "http")}
    ports.update(connector=_free_port(), connector_metrics=_free_port())
    config_file, flyte_config = _configs(root, ports)
    running = ConnectorStack(root, venv, ports, config_file, flyte_config)
    try:
        running.start_connector()  # first, so propeller's discovery finds its task types at start-up
        for name in SERVICES:
            running.start(name)
        yield running
    finally:
        running.stop_all()


@pytest.fixture(scope="session")
def registered(stack: ConnectorStack) -> str:
    version = f"conn-{uuid.uuid4().hex[:10]}"
    result = subprocess.run(
        [
            str(stack.venv / "bin" / "pyflyte"),
            "--config",
            str(stack.flyte_config),
            "register",
            "--project",
            "flytesnacks",
            "--domain",
            "development",
            "--image",
            IMAGE,
            "--version",
            version,
            "flows",
        ],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"pyflyte register failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return version
