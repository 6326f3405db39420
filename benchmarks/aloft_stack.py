"""The real Aloft stack for benchmarks: datacatalog, admin and propeller as processes (their console scripts) on free
ports, on SQLite (the embedded default) or a fresh PostgreSQL database, and a flytekit config pointing at admin."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from aloft_testing.postgres import drop_database, fresh_database
from aloft_testing.processes import wait_grpc_serving
from aloft_testing.servers import free_port

SERVICES = ("datacatalog", "admin", "propeller")


@dataclass
class Stack:
    root: Path
    flyte_config: Path
    processes: dict[str, subprocess.Popen[bytes]]

    def resident_bytes(self, service: str) -> int:
        """Resident set size (Linux /proc)."""
        pid = self.processes[service].pid
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0


def _config(
    root: Path, ports: dict[str, int], database_url: str, propeller: dict[str, object], local_concurrency: int
) -> dict[str, object]:
    config: dict[str, object] = {
        "stack": {"dataDir": str(root / "data")},
        "logger": {"level": "warning"},
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
            **propeller,
        },
        "storage": {"type": "local", "signedUrl": {"baseUrl": f"http://127.0.0.1:{ports['admin_http']}/api/v1/blobs"}},
    }
    if database_url:
        config["database"] = {"url": database_url}
    if local_concurrency:
        config["plugins"] = {"local-process": {"max-concurrency": local_concurrency}}
    return config


def _kill_tasks_under(root: Path) -> None:
    """Task processes run in sessions of their own (they outlive propeller by design): end those started here."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(proc / "cwd"))
        except OSError:
            continue
        if root.resolve() in cwd.parents:
            with contextlib.suppress(OSError):
                os.killpg(os.getpgid(int(proc.name)), signal.SIGKILL)


def _stop(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    for process in processes.values():
        process.terminate()
    for process in processes.values():
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def running_stack(
    database: str = "sqlite", propeller: dict[str, object] | None = None, local_concurrency: int = 0
) -> Iterator[Stack]:
    """``database``: "sqlite" (embedded default) or "postgres" (a fresh database, dropped afterwards);
    ``local_concurrency``: plugins.local-process.max-concurrency (0: the default)."""
    pg = fresh_database("aloft_bench") if database == "postgres" else None
    try:
        with tempfile.TemporaryDirectory(prefix="aloft-bench-") as tmp:
            root = Path(tmp)
            ports = {f"{svc}_{kind}": free_port() for svc in SERVICES for kind in ("grpc", "http")}
            config_file = root / "aloft.yaml"
            config = _config(root, ports, pg.sync_url if pg else "", propeller or {}, local_concurrency)
            config_file.write_text(yaml.safe_dump(config))
            flyte_config = root / "flytekit.yaml"
            flyte_config.write_text(
                yaml.safe_dump({"admin": {"endpoint": f"dns:///127.0.0.1:{ports['admin_grpc']}", "insecure": True}})
            )
            processes: dict[str, subprocess.Popen[bytes]] = {}
            try:
                for service in SERVICES:
                    log = root / f"{service}.log"
                    executable = Path(sys.executable).parent / f"aloft-{service}"
                    with log.open("wb") as out:
                        processes[service] = subprocess.Popen(
                            [str(executable), "--config", str(config_file), "serve"], stdout=out, stderr=out, cwd=root
                        )
                    wait_grpc_serving(f"127.0.0.1:{ports[service + '_grpc']}", processes[service], log)
                yield Stack(root, flyte_config, processes)
            finally:
                _stop(processes)
                _kill_tasks_under(root)
    finally:
        if pg is not None:
            drop_database(pg)
