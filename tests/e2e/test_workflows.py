"""Propeller acceptance: real flytekit workflows run to completion on the stack (local-process tasks)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.flytekit]

SUCCEEDED, FAILED = 4, 6  # flyteidl.core.WorkflowExecution.Phase


def run(stack: Any, version: str, workflow: str, **inputs: Any) -> dict[str, Any]:
    return stack.driver("run", version, workflow, json.dumps(inputs), "--timeout", "240")


def assert_succeeded(result: dict[str, Any]) -> None:
    assert result["phase"] == SUCCEEDED, result


def test_two_task_chain(stack: Any, registered: str) -> None:
    result = run(stack, registered, "chain", x=3)
    assert_succeeded(result)
    assert result["outputs"] == {"o0": 8}


@pytest.mark.parametrize(("x", "expected"), [(5, "branch:positive"), (-2, "branch:negative"), (0, "branch:zero")])
def test_conditional_takes_each_branch(stack: Any, registered: str, x: int, expected: str) -> None:
    result = run(stack, registered, "conditional_wf", x=x)
    assert_succeeded(result)
    assert result["outputs"] == {"o0": expected}


def test_subworkflow(stack: Any, registered: str) -> None:
    result = run(stack, registered, "outer", x=4)
    assert_succeeded(result)
    assert result["outputs"] == {"o0": 10}


def test_recoverable_failure_retried(stack: Any, registered: str, tmp_path: Path) -> None:
    result = run(stack, registered, "flaky_wf", marker_dir=str(tmp_path))
    assert_succeeded(result)
    assert result["outputs"]["o0"].startswith("ok after 2 attempts")
    assert (tmp_path / "flaky-attempt").read_text() == "2"
    assert result["attempts"].get("n0") == 2, result["attempts"]


def test_user_error_fails_execution_with_message(stack: Any, registered: str) -> None:
    result = run(stack, registered, "failing_wf", x=7)
    assert result["phase"] == FAILED, result
    assert "boom: x was 7" in (result["error"] or "")


def test_dataclass_with_attribute_access(stack: Any, registered: str) -> None:
    result = run(stack, registered, "dataclass_wf", n=4)
    assert_succeeded(result)
    assert result["outputs"]["o0"] == 1040
    assert result["outputs"]["o1"] == {"x": 4, "y": 40, "label": "p4!"}


def test_flytefile_between_tasks(stack: Any, registered: str) -> None:
    result = run(stack, registered, "file_wf", text="hello file")
    assert_succeeded(result)
    assert result["outputs"] == {"o0": "HELLO FILE"}


def test_raw_container_task(stack: Any, registered: str) -> None:
    result = run(stack, registered, "container_wf", a=20, b=22)
    assert_succeeded(result)
    assert result["outputs"] == {"o0": 42}
