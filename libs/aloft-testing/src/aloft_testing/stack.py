"""The real Aloft stack as processes: datacatalog, admin, propeller (and the scheduler) through their console scripts,
on free ports with one temporary data directory, plus the flytekit config pointing at admin.

One harness for every suite that needs the whole stack (tests/e2e, tests/kube, tests/cli, tests/egress, tests/console,
tests/connectors, tests/auth) and for the end-to-end benchmarks: ``stack_config`` writes the one ``aloft.yaml`` the
services read (embedded defaults: SQLite, local blob store, local-process tasks), callers add their own sections to it
(``select_plugins`` for propeller's plugins), and ``Stack`` starts, kills and stops the processes (and any other
process a suite runs beside them, ``spawn``), waits for them over TLS when their gRPC ports speak it (``tls``), and
runs unmodified flytekit (``pyflyte``, a driver script) from a flytekit virtualenv.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import yaml

from aloft_testing.flytekit import flytekit_bin
from aloft_testing.processes import GrpcTls, stop_processes, wait_grpc_serving
from aloft_testing.servers import free_port

SERVICES = ("datacatalog", "admin", "propeller", "scheduler")
# The end-to-end tests' propeller: more workers, and re-evaluation every second so a round follows a task soon.
QUICK_PROPELLER = {"workers": 8, "workflow-reeval-duration": "1s", "downstream-eval-duration": "1s"}
# The stack's scheduler: activations seen within a second, and a clock 50 s ahead so a one-minute fixed rate (the
# shortest flytekit allows) ticks about 10 s after activation, fired by the real process through admin.
QUICK_SCHEDULER = {"resyncInterval": "1s", "clockOffset": "50s"}


def stack_ports(services: Iterable[str] = SERVICES) -> dict[str, int]:
    """``<service>_grpc`` and ``<service>_http`` free ports for each service."""
    return {f"{svc}_{kind}": free_port() for svc in services for kind in ("grpc", "http")}


def stack_config(
    root: Path, ports: dict[str, int], propeller: dict[str, Any] | None = None, database_url: str = ""
) -> dict[str, Any]:
    """The services' configuration: data under ``root/data``, each service on its ports and wired to the others;
    ``propeller`` adds to propeller's section; ``database_url`` replaces the embedded SQLite databases."""
    config: dict[str, Any] = {
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
            **(propeller or {}),
        },
        "storage": {"type": "local", "signedUrl": {"baseUrl": f"http://127.0.0.1:{ports['admin_http']}/api/v1/blobs"}},
    }
    if "scheduler_grpc" in ports:
        config["scheduler"] = {
            "grpcPort": ports["scheduler_grpc"],
            "httpPort": ports["scheduler_http"],
            "adminEndpoint": f"127.0.0.1:{ports['admin_grpc']}",
            **QUICK_SCHEDULER,
        }
    if database_url:
        config["database"] = {"url": database_url}
    return config


def select_plugins(
    config: dict[str, Any],
    enabled: list[str],
    sections: dict[str, Any],
    default_for_task_types: dict[str, str] | None = None,
) -> None:
    """Propeller's plugin selection, with config/k8s.yaml's keys: ``tasks.task-plugins`` enables ``enabled`` (and
    routes task types to them), ``plugins`` holds each plugin's own section."""
    selection: dict[str, Any] = {"enabled-plugins": enabled}
    if default_for_task_types:
        selection["default-for-task-types"] = default_for_task_types
    config["tasks"] = {"task-plugins": selection}
    config["plugins"] = sections


def flytekit_config(ports: dict[str, int]) -> dict[str, Any]:
    """flytekit's config (``--config`` of pyflyte, FlyteRemote): admin's gRPC endpoint, insecure."""
    return {"admin": {"endpoint": f"dns:///127.0.0.1:{ports['admin_grpc']}", "insecure": True}}


def write_configs(root: Path, config: dict[str, Any], ports: dict[str, int]) -> tuple[Path, Path]:
    """``root/aloft.yaml`` (the services' config) and ``root/flytekit.yaml``."""
    config_file = root / "aloft.yaml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    flyte_config = root / "flytekit.yaml"
    flyte_config.write_text(yaml.safe_dump(flytekit_config(ports)))
    return config_file, flyte_config


@dataclass
class Stack:
    """The service processes of one stack. ``workdir`` holds what flytekit runs from (``flows/``, ``driver.py``);
    ``venv`` is the flytekit virtualenv (aloft_testing.flytekit); ``tls``, how to reach gRPC ports that speak TLS."""

    root: Path
    config_file: Path
    flyte_config: Path
    ports: dict[str, int]
    venv: Path
    logs: Path
    workdir: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    tls: GrpcTls | None = None

    @classmethod
    def create(
        cls,
        root: Path,
        venv: Path,
        workdir: Path,
        config: dict[str, Any],
        ports: dict[str, int],
        tls: GrpcTls | None = None,
    ) -> Self:
        """Write ``config`` and flytekit's config under ``root`` (logs in ``root/logs``); nothing started yet."""
        config_file, flyte_config = write_configs(root, config, ports)
        logs = root / "logs"
        logs.mkdir(exist_ok=True)
        return cls(root, config_file, flyte_config, ports, venv, logs, workdir, tls=tls)

    def spawn(
        self, name: str, argv: list[str], cwd: Path | None = None, extra_env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Run ``argv`` as the stack's process ``name`` (output in ``logs/<name>.log``, stopped by ``stop_all``)."""
        env = {**os.environ, "ALOFT_FLYTEKIT_VENV": str(self.venv), **(extra_env or {})}
        with (self.logs / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=cwd or self.root, env=env)
        self.procs[name] = proc
        return proc

    def start(self, name: str, extra_env: dict[str, str] | None = None) -> None:
        """Start ``aloft-<name> serve`` and wait until its gRPC health check says SERVING."""
        exe = Path(sys.executable).parent / f"aloft-{name}"
        self.spawn(name, [str(exe), "--config", str(self.config_file), "serve"], extra_env=extra_env)
        self.wait_serving(name)

    def start_all(self, services: Iterable[str] = SERVICES) -> None:
        for name in services:
            self.start(name)

    @contextmanager
    def running(self, services: Iterable[str] = SERVICES) -> Iterator[Self]:
        """``services`` started (``start_all``) for the ``with`` block; every process stopped at its end."""
        try:
            self.start_all(services)
            yield self
        finally:
            self.stop_all()

    def wait_serving(self, name: str, timeout: float = 60) -> None:
        endpoint = f"127.0.0.1:{self.ports[f'{name}_grpc']}"
        wait_grpc_serving(endpoint, self.procs[name], self.logs / f"{name}.log", timeout, self.tls)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(sig)
        proc.wait(30)

    def stop_all(self) -> None:
        stop_processes(list(self.procs.values()))
        self.procs.clear()

    def log(self, name: str) -> str:
        """Everything process ``name`` wrote so far."""
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def log_tail(self, name: str, lines: int = 60) -> str:
        return "\n".join(self.log(name).splitlines()[-lines:])

    def resident_bytes(self, name: str) -> int:
        """Resident set size of a service process (Linux /proc)."""
        for line in Path(f"/proc/{self.procs[name].pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def pyflyte(self, *args: str, timeout: float = 300, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """``pyflyte --config <flytekit.yaml> ...`` in ``cwd`` (default: ``workdir``)."""
        return subprocess.run(
            [str(self.venv / "bin" / "pyflyte"), "--config", str(self.flyte_config), *args],
            cwd=cwd or self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def register(self, version: str, *packages: str, cwd: Path | None = None) -> None:
        """``pyflyte register`` (fast registration) of ``packages`` (found in ``cwd``, default ``workdir``) in
        flytesnacks/development as ``version``."""
        result = self.pyflyte(
            "register",
            *("--project", "flytesnacks", "--domain", "development"),
            *("--image", "ghcr.io/flyteorg/flytekit:py3.11-1.16.31", "--version", version),
            *packages,
            cwd=cwd,
        )
        assert result.returncode == 0, (
            f"pyflyte register failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}\n"
            f"--- admin log ---\n{self.log_tail('admin')}"
        )

    def driver(self, *args: str, timeout: float = 300) -> dict[str, Any]:
        """Run ``workdir/driver.py`` in the flytekit virtualenv; its last stdout line is a JSON document."""
        script = [str(self.venv / "bin" / "python"), str(self.workdir / "driver.py")]
        result = subprocess.run(
            [*script, "--config", str(self.flyte_config), *args],
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            # admin's and propeller's logs, and those of what the suite runs beside the stack (a connector ...)
            shown = ["admin", "propeller", *(name for name in self.procs if name not in SERVICES)]
            logs = "".join(f"\n--- {name} log ---\n{self.log_tail(name)}" for name in shown)
            raise AssertionError(f"driver {args} failed ({result.returncode}):\n{result.stderr[-4000:]}{logs}")
        return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@contextmanager
def started_stack(
    root: Path,
    workdir: Path,
    config: dict[str, Any] | None = None,
    ports: dict[str, int] | None = None,
    services: Iterable[str] = SERVICES,
) -> Iterator[Stack]:
    """``services`` running on ``ports`` (default: free ports for every service) with ``config`` (default: the
    end-to-end tests' ``stack_config``); stopped on exit."""
    ports = ports or stack_ports()
    config = config or stack_config(root, ports, QUICK_PROPELLER)
    with Stack.create(root, flytekit_bin().parent, workdir, config, ports).running(services) as stack:
        yield stack
