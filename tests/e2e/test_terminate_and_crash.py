"""Terminate kills the running task process; a kill -9 of propeller mid-run loses nothing and repeats nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from aloft_testing.processes import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.flytekit]

SUCCEEDED, ABORTED = 4, 7


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_terminate_running_execution(stack: Any, registered: str, tmp_path: Path) -> None:
    started = stack.driver(
        "run", registered, "sleepy_wf", json.dumps({"seconds": 300, "marker_dir": str(tmp_path)}), "--no-wait"
    )
    wait_for(lambda: any(tmp_path.glob("sleepy-*")), 120, "the task process to start", interval=0.5)
    pid = int(next(tmp_path.glob("sleepy-*")).read_text())
    stack.driver("terminate", started["name"], "stopped by the e2e test")
    result = stack.driver("wait", started["name"], "--timeout", "120")
    assert result["phase"] == ABORTED, result
    assert "stopped by the e2e test" in (result["abort_cause"] or result["error"] or ""), result
    wait_for(lambda: not _alive(pid), 30, f"task process {pid} to be killed", interval=0.5)


def test_propeller_crash_mid_run_repeats_no_attempt(stack: Any, registered: str, tmp_path: Path) -> None:
    keys = [f"k{i:02d}" for i in range(20)]
    inputs = [{"marker_dir": str(tmp_path), "key": key} for key in keys]
    names = stack.driver("start-many", registered, "counted_wf", json.dumps(inputs))["names"]
    wait_for(lambda: len(list(tmp_path.glob("*.attempts"))) >= 3, 180, "some task attempts to start", interval=0.5)
    stack.kill("propeller")  # SIGKILL: no chance to clean up
    stack.start("propeller")
    results = stack.driver("wait-many", ",".join(names), "--timeout", "400", timeout=600)["results"]
    assert [r["phase"] for r in results] == [SUCCEEDED] * 20, results
    for key in keys:
        lines = (tmp_path / f"{key}.attempts").read_text().splitlines()
        assert len(lines) == 1, f"{key} ran {len(lines)} times"
