"""Array (map) nodes and dynamic workflows with unmodified flytekit: map_task over a list (concurrency, per
sub-task retries, min_success_ratio) and a dynamic workflow fanning out N tasks, read back with sync_nodes=True."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.flytekit]

SUCCEEDED = 4  # flyteidl.core.WorkflowExecution.Phase
TASK_SUCCEEDED, TASK_FAILED, TASK_RETRYABLE_FAILED = 3, 5, 8  # flyteidl.core.TaskExecution.Phase
CACHE_HIT, CACHE_POPULATED = 2, 3  # flyteidl.core.CatalogCacheStatus


def run_flow(stack: Any, version: str, workflow: str, **inputs: Any) -> dict[str, Any]:
    return stack.driver("run-flow", version, f"flows.advanced_maps.{workflow}", json.dumps(inputs), timeout=400)


def array_node(result: dict[str, Any]) -> dict[str, Any]:
    (node,) = [n for n in result["nodes"].values() if n["is_array"]]
    return node


def test_map_task_over_a_list(stack: Any, registered: str) -> None:
    xs = [3, -1, 0, 2, 5]
    result = run_flow(stack, registered, "map_cubes", xs=xs)
    assert result["phase"] == SUCCEEDED, result
    assert result["outputs"] == {"o0": [x**3 for x in xs]}
    node = array_node(result)
    (task_execution,) = node["tasks"]
    assert task_execution["phase"] == TASK_SUCCEEDED
    resources = task_execution["external_resources"]
    assert sorted(index for index, _, _, _ in resources) == list(range(len(xs)))
    assert {phase for _, _, phase, _ in resources} == {TASK_SUCCEEDED}


def test_map_sub_task_retries_alone_with_broadcast_input(stack: Any, registered: str, tmp_path: Path) -> None:
    result = run_flow(stack, registered, "map_with_retry", xs=[0, 1, 2], marker_dir=str(tmp_path))
    assert result["phase"] == SUCCEEDED, result
    assert result["outputs"] == {"o0": [100, 101, 102]}
    resources = array_node(result)["tasks"][0]["external_resources"]
    # every sub-task attempt is held (flyteadmin merges by index and retry attempt): element 1's first one retried
    held = sorted((index, attempt, phase) for index, attempt, phase, _ in resources)
    assert held == [
        (0, 0, TASK_SUCCEEDED),
        (1, 0, TASK_RETRYABLE_FAILED),
        (1, 1, TASK_SUCCEEDED),
        (2, 0, TASK_SUCCEEDED),
    ]


def test_min_success_ratio_reports_partial_failure(stack: Any, registered: str) -> None:
    result = run_flow(stack, registered, "tolerant_map", xs=[1, -2, 3, 4])
    assert result["phase"] == SUCCEEDED, result
    assert result["outputs"] == {"o0": [10, None, 30, 40]}
    resources = array_node(result)["tasks"][0]["external_resources"]
    assert sorted((index, phase) for index, _, phase, _ in resources)[1] == (1, TASK_FAILED)


def test_cached_map_sub_tasks_hit_the_cache_on_the_second_run(stack: Any, registered: str) -> None:
    xs = [random.randint(1_000, 1_000_000) for _ in range(3)]  # fresh cache keys per test run
    first = run_flow(stack, registered, "cached_map", xs=xs)
    assert first["phase"] == SUCCEEDED, first
    assert first["outputs"] == {"o0": [2 * x for x in xs]}
    assert {r[3] for r in array_node(first)["tasks"][0]["external_resources"]} == {CACHE_POPULATED}
    second = run_flow(stack, registered, "cached_map", xs=[xs[1], xs[0], xs[2], 7])
    assert second["phase"] == SUCCEEDED, second
    assert second["outputs"] == {"o0": [2 * xs[1], 2 * xs[0], 2 * xs[2], 14]}
    statuses = sorted((r[0], r[3]) for r in array_node(second)["tasks"][0]["external_resources"])
    assert statuses == [(0, CACHE_HIT), (1, CACHE_HIT), (2, CACHE_HIT), (3, CACHE_POPULATED)]


def test_dynamic_workflow_fans_out_n_tasks(stack: Any, registered: str) -> None:
    result = run_flow(stack, registered, "dynamic_fan_out", n=6)
    assert result["phase"] == SUCCEEDED, result
    assert result["outputs"] == {"o0": [i**3 for i in range(6)]}
    (parent,) = [n for n in result["nodes"].values() if n["is_parent"]]
    assert parent["is_dynamic"]
    assert len(parent["children"]) == 6
    compiled = [node_id for node_id in parent["dynamic_workflow_nodes"] if node_id not in ("start-node", "end-node")]
    assert len(compiled) == 6  # GetDynamicNodeWorkflow answers with the compiled fan-out


def test_dynamic_workflow_calling_launch_plans(stack: Any, registered: str) -> None:
    result = run_flow(stack, registered, "dynamic_launch_plans", n=3)
    assert result["phase"] == SUCCEEDED, result
    assert result["outputs"] == {"o0": [0, 1, 8]}
    (parent,) = [n for n in result["nodes"].values() if n["is_parent"]]
    assert parent["is_dynamic"] and len(parent["children"]) == 3
