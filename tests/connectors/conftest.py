"""Connector scenarios on real processes: flytekit's connector server (`pyflyte serve connector`, unmodified
flytekit from .venv-flytekit, with this directory's custom connector module), then datacatalog, admin and a
propeller whose `connector-service` plugin points at it (aloft_testing.stack); workflows registered with
`pyflyte register`.

The connector's own Prometheus counters (`flyte_connector_requests_success_total{operation=create|get|delete}`)
tell how often propeller called it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import time
import urllib.request
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from flyteidl.admin import agent_pb2
from flyteidl.service import agent_pb2_grpc

from aloft_testing.flytekit import flytekit_bin
from aloft_testing.servers import free_port
from aloft_testing.stack import SERVICES as ALL_SERVICES
from aloft_testing.stack import Stack, select_plugins, stack_config, stack_ports

HERE = Path(__file__).resolve().parent
SERVICES = ("datacatalog", "admin", "propeller")
PROPELLER = {"workers": 4, "workflow-reeval-duration": "1s", "downstream-eval-duration": "1s"}
_COUNTER = re.compile(r"^flyte_connector_requests_success_total\{(?P<labels>[^}]*)\} (?P<value>[0-9.e+]+)$", re.M)


class ConnectorStack(Stack):
    """The stack plus flytekit's connector server (the process ``connector``), started before the services."""

    def start_all(self, services: Iterable[str] = ALL_SERVICES) -> None:
        self.start_connector()  # first, so propeller's discovery finds its task types at start-up
        super().start_all(services)

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
        proc = self.spawn("connector", argv, cwd=HERE, extra_env={"PYTHONUNBUFFERED": "1"})
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

    def stop_all(self) -> None:
        super().stop_all()
        self._stop_leftover_clusters()

    def _stop_leftover_clusters(self) -> None:
        """Embedded clusters outlive propeller by design (the next one adopts them); this stack has no next one,
        so the clusters of attempts still running when the session ends are stopped here."""
        for records in (self.root / "data" / "propeller" / "clusters").glob("*/*/processes.jsonl"):
            for line in records.read_text().splitlines():
                if line.strip():
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(json.loads(line)["record"]["pgid"], signal.SIGKILL)

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


def _config(root: Path, ports: dict[str, int]) -> dict[str, Any]:
    config = stack_config(root, ports, PROPELLER)
    plugins = {
        "connector-service": {
            "defaultConnector": {"endpoint": f"127.0.0.1:{ports['connector']}", "insecure": True},
            "pollInterval": "5s",
            "webApi": {"caching": {"initialPollInterval": "0.2s", "resyncInterval": "1s"}},
        },
        "dask": {"max-workers": 2, "kill-grace-period": "5s"},
        # Three Ray nodes on a small shared machine can take minutes to register with the head.
        "ray": {"max-workers": 2, "kill-grace-period": "10s", "startup-timeout": "420s"},
    }
    select_plugins(config, ["local-process", "connector-service", "dask", "ray"], plugins)
    return config


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConnectorStack]:
    root = tmp_path_factory.mktemp("connectors")
    ports = stack_ports(SERVICES) | {"connector": free_port(), "connector_metrics": free_port()}
    with ConnectorStack.create(root, flytekit_bin().parent, HERE, _config(root, ports), ports).running(SERVICES) as up:
        yield up


@pytest.fixture(scope="session")
def registered(stack: ConnectorStack) -> str:
    version = f"conn-{uuid.uuid4().hex[:10]}"
    stack.register(version, "flows")
    return version
