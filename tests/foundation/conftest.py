"""Fixtures for the foundation acceptance tests: `aloft up` and the service CLIs run as real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import yaml

from aloft_testing.servers import free_port

BIN = Path(sys.executable).parent
SERVICES = ("datacatalog", "admin", "propeller", "scheduler")


def _service_cli_ready(name: str) -> bool:
    """True once ``aloft-<name>`` is a real CLI (its --help lists ``serve``), not the package placeholder."""
    exe = BIN / f"aloft-{name}"
    if not exe.exists():
        return False
    result = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60, check=False)
    return result.returncode == 0 and "serve" in result.stdout


@pytest.fixture(scope="session")
def service_cli_ready() -> Callable[[str], bool]:
    """``service_cli_ready("datacatalog")``: is that service's CLI real yet (cached per session)?"""
    return cache(_service_cli_ready)


@dataclass
class StackRun:
    """A running ``aloft up``: its process, config and the ports each service was given."""

    process: subprocess.Popen[str]
    config: Path
    data_dir: Path
    ports: dict[str, tuple[int, int]]
    output: list[str]

    def wait_for_line(self, text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line and self.process.poll() is not None:
                break
            self.output.append(line)
            if text in line:
                return
        stderr = self.process.stderr.read() if self.process.poll() is not None and self.process.stderr else ""
        raise AssertionError(f"'{text}' not printed by aloft up:\n{''.join(self.output)}\n{stderr}")

    def interrupt(self, timeout: float = 60) -> tuple[int, str]:
        self.process.send_signal(signal.SIGINT)
        _, stderr = self.process.communicate(timeout=timeout)
        return self.process.returncode, stderr


def stack_config(root: Path, services: tuple[str, ...] = SERVICES) -> tuple[Path, dict[str, tuple[int, int]]]:
    """A config giving every service free ports, with the cross-service endpoints pointing at them."""
    ports = {name: (free_port(), free_port()) for name in SERVICES}
    config = {
        "stack": {"dataDir": str(root / "data")},
        "admin": {
            "grpcPort": ports["admin"][0],
            "httpPort": ports["admin"][1],
            "dataPlanes": [{"name": "default", "endpoint": f"127.0.0.1:{ports['propeller'][0]}"}],
        },
        "datacatalog": {"grpcPort": ports["datacatalog"][0], "httpPort": ports["datacatalog"][1]},
        "propeller": {
            "grpcPort": ports["propeller"][0],
            "httpPort": ports["propeller"][1],
            "adminEndpoint": f"127.0.0.1:{ports['admin'][0]}",
            "datacatalogEndpoint": f"127.0.0.1:{ports['datacatalog'][0]}",
        },
        "scheduler": {
            "grpcPort": ports["scheduler"][0],
            "httpPort": ports["scheduler"][1],
            "adminEndpoint": f"127.0.0.1:{ports['admin'][0]}",
        },
        "storage": {"signedUrl": {"baseUrl": f"http://127.0.0.1:{ports['admin'][1]}/api/v1/blobs"}},
    }
    path = root / "aloft.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path, {name: ports[name] for name in services}


@pytest.fixture
def start_stack(tmp_path: Path) -> Iterator[Callable[..., StackRun]]:
    """Call with a tuple of services; returns a StackRun. Whatever is still running is stopped afterwards."""
    runs: list[StackRun] = []

    def start(services: tuple[str, ...] = SERVICES, env: dict[str, str] | None = None) -> StackRun:
        config, ports = stack_config(tmp_path, services)
        process = subprocess.Popen(
            [str(BIN / "aloft"), "--config", str(config), "--services", ",".join(services), "up", "--timeout", "90"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        run = StackRun(process, config, tmp_path / "data", ports, [])
        runs.append(run)
        return run

    yield start
    for run in runs:
        if run.process.poll() is None:
            run.process.send_signal(signal.SIGTERM)
            try:
                run.process.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                run.process.kill()
                run.process.communicate()
