"""Admin acceptance with unmodified flytekit: pyflyte register (fast registration), FlyteRemote fetch and execute."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.flytekit]


def test_pyflyte_register_and_fetch_back(stack: Any, registered: str) -> None:
    fetched = stack.driver("fetch", registered)
    assert fetched["workflow"] == "flows.basics.with_sub_and_map"
    assert fetched["launch_plan"] == "chain_lp"
    assert fetched["launch_plan_defaults"] == ["x"]
    assert fetched["task"] == "flows.basics.add_one"
    assert fetched["task_type"] == "python-task"


def test_execute_and_fetch_execution(stack: Any, registered: str) -> None:
    started = stack.driver("run", registered, "chain_lp", "{}", "--launch-plan", "--no-wait")
    assert started["name"]
    again = stack.driver("wait", started["name"], "--timeout", "180")
    assert again["name"] == started["name"]
    assert again["is_done"], again
