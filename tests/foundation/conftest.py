"""Fixtures for the foundation acceptance tests: `aloft up` and the service CLIs run as real processes."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO

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


def _pump(stdout: IO[str], lines: queue.Queue[str]) -> None:
    """Every line of ``stdout`` into ``lines``, then "" at its end (or once communicate() has closed it)."""
    try:
        for line in stdout:
            lines.put(line)
    except (OSError, ValueError):
        pass
    lines.put("")


@dataclass
class StackRun:
    """A running ``aloft up``: its process, config and the ports each service was given."""

    process: subprocess.Popen[str]
    config: Path
    data_dir: Path
    ports: dict[str, tuple[int, int]]
    output: list[str]
    _lines: queue.Queue[str] | None = None

    def wait_for_line(self, text: str, timeout: float = 120) -> None:
        """Lines are read by a thread, so the deadline holds even when aloft up hangs without printing."""
        assert self.process.stdout is not None
        if self._lines is None:
            self._lines = queue.Queue()
            threading.Thread(target=_pump, args=(self.process.stdout, self._lines), daemon=True).start()
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                break
            if not line:  # aloft up closed its output: it exited
                break
            self.output.append(line)
            if text in line:
                return
        exited = self.process.poll() is not None
        stderr = self.process.stderr.read() if exited and self.process.stderr else "(aloft up is still running)"
        raise AssertionError(f"'{text}' not printed by aloft up:\n{''.join(self.output)}\n{stderr}\n{self.logs()}")

    def logs(self) -> str:
        """The last lines of every service's log: where a start-up stalled."""
        return "\n".join(
            f"--- {path.name}:\n" + "\n".join(path.read_text(errors="replace").splitlines()[-20:])
            for path in sorted((self.data_dir / "logs").glob("*.log"))
        )

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
