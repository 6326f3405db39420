"""Caching acceptance with unmodified flytekit: cache hits run no process; cache_serialize runs a task once."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.flytekit]

SUCCEEDED = 4  # flyteidl.core.WorkflowExecution.Phase
CACHE_HIT, CACHE_POPULATED = 2, 3  # flyteidl.core.CatalogCacheStatus


def run_cached(stack: Any, version: str, workflow: str, inputs_list: list[dict[str, Any]]) -> list[dict[str, Any]]:
    result = stack.driver("run-cached", version, f"flows.caching.{workflow}", json.dumps(inputs_list), timeout=400)
    return list(result["results"])


def task_node(result: dict[str, Any]) -> str:
    (node_id,) = [n for n in result["cache_status"] if n not in ("start-node", "end-node")]
    return node_id


def test_second_run_is_a_cache_hit_and_runs_no_process(stack: Any, registered: str, tmp_path: Path) -> None:
    x = random.randint(1_000, 1_000_000)  # a fresh cache key per test run
    markers = tmp_path / "markers"
    inputs = {"x": x, "marker_dir": str(markers)}
    (first,) = run_cached(stack, registered, "cached_wf", [inputs])
    assert first["phase"] == SUCCEEDED, first
    assert first["outputs"] == {"o0": x * x}
    assert first["cache_status"][task_node(first)] == CACHE_POPULATED
    assert len(list(markers.iterdir())) == 1

    (second,) = run_cached(stack, registered, "cached_wf", [inputs])
    assert second["phase"] == SUCCEEDED, second
    assert second["outputs"] == {"o0": x * x}
    assert second["cache_status"][task_node(second)] == CACHE_HIT
    assert len(list(markers.iterdir())) == 1  # the task process never ran again


def test_concurrent_cache_serialized_executions_run_the_task_once(stack: Any, registered: str, tmp_path: Path) -> None:
    x = random.randint(1_000, 1_000_000)
    markers = tmp_path / "markers"
    inputs = {"x": x, "marker_dir": str(markers)}
    results = run_cached(stack, registered, "serialized_wf", [inputs, inputs])
    assert [r["phase"] for r in results] == [SUCCEEDED, SUCCEEDED], results
    assert [r["outputs"] for r in results] == [{"o0": x + 100}] * 2
    assert len(list(markers.iterdir())) == 1
    statuses = sorted(r["cache_status"][task_node(r)] for r in results)
    assert statuses == [CACHE_HIT, CACHE_POPULATED]
