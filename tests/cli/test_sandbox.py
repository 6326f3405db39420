"""`aloftctl sandbox start --detach / status / stop`: flytectl's local-cluster commands run `aloft up` (no Docker)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aloft_testing.stack import QUICK_PROPELLER, stack_config, stack_ports, write_configs


@pytest.fixture
def sandbox_dir(tmp_path: Path) -> Path:
    ports = stack_ports()
    write_configs(tmp_path, stack_config(tmp_path, ports, QUICK_PROPELLER), ports)
    return tmp_path


def _ctl(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aloftctl", "--config", str(workdir / "flytekit.yaml"), "sandbox", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_sandbox_start_status_stop(sandbox_dir: Path) -> None:
    try:
        started = _ctl(sandbox_dir, "start", "--detach", "--stack-config", str(sandbox_dir / "aloft.yaml"))
        assert started.returncode == 0, (
            started.stdout + started.stderr + (sandbox_dir / ".aloft/sandbox.log").read_text()
        )
        assert "admin is up at 127.0.0.1:" in started.stdout
        status = _ctl(sandbox_dir, "status")
        assert status.returncode == 0 and "background stack: pid" in status.stdout
        again = _ctl(sandbox_dir, "start", "--detach", "--stack-config", str(sandbox_dir / "aloft.yaml"))
        assert again.returncode == 1 and "already running" in again.stderr
    finally:
        stopped = _ctl(sandbox_dir, "stop")
    assert stopped.returncode == 0 and "stopped the sandbox" in stopped.stdout, stopped.stderr
    down = _ctl(sandbox_dir, "status")
    assert down.returncode == 1 and down.stderr.startswith("Error: cannot reach admin at")
    assert _ctl(sandbox_dir, "stop").returncode == 1
