"""Dask and Ray tasks (flytekitplugins-dask / -ray, unmodified flytekit) on embedded clusters started for the
attempt: a real `dask scheduler` and two `dask worker` processes, the task's dask Client computing on them; a
`ray start --head` node plus two `ray start --address` nodes running the task's `ray.remote` work with the spec's
runtime env (flytekit's own `ray.init(runtime_env=...)` merged with it, as under `ray job submit`). Every cluster
process is gone after the attempt; a propeller killed with SIGKILL while the task runs adopts the cluster and still
tears it down."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from aloft_testing.processes import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.flytekit]

SUCCEEDED = 4


def clusters_of(stack: Any, execution: str, engine: str = "dask") -> list[Path]:
    root = stack.root / "data" / "propeller" / "clusters" / engine
    return sorted(root.glob(f"{execution}-*/processes.jsonl")) if root.is_dir() else []


def pids(records: Path) -> dict[str, int]:
    lines = [json.loads(line) for line in records.read_text().splitlines() if line.strip()]
    return {line["role"]: line["record"]["pid"] for line in lines}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_dask_task_computes_on_its_own_cluster_and_tears_it_down(stack: Any, registered: str) -> None:
    inputs = json.dumps({"n": 10, "gate": ""})
    name = stack.driver("start", registered, "flows.clusters.dask_wf", inputs)["name"]
    result = stack.driver("wait", name, "--timeout", "240")
    assert result["phase"] == SUCCEEDED, result
    total, workers, address = result["outputs"]["o0"], result["outputs"]["o1"], result["outputs"]["o2"]
    assert (total, workers) == (285, 2)  # sum of squares 0..9, computed across both workers
    (records,) = clusters_of(stack, name)
    roles = pids(records)
    assert sorted(roles) == ["scheduler", "worker-0", "worker-1"]
    assert address.startswith("tcp://127.0.0.1:")
    wait_for(lambda: not any(alive(pid) for pid in roles.values()), 60, "the cluster processes to be stopped")


def test_propeller_killed_while_the_dask_task_runs(stack: Any, registered: str, tmp_path: Path) -> None:
    gate = tmp_path / "go"
    name = stack.driver("start", registered, "flows.clusters.dask_wf", json.dumps({"n": 4, "gate": str(gate)}))["name"]
    wait_for(lambda: bool(clusters_of(stack, name)) and len(pids(clusters_of(stack, name)[0])) == 3, 180, "the cluster")
    records = clusters_of(stack, name)[0]
    wait_for(lambda: (records.parent / "address").exists(), 180, "the cluster to be complete and the task started")
    stack.kill("propeller")  # SIGKILL while the task runs against its cluster
    roles = pids(records)
    assert all(alive(pid) for pid in roles.values()), "the cluster must survive a propeller crash"
    stack.start("propeller")
    gate.write_text("go")
    result = stack.driver("wait", name, "--timeout", "240")
    assert result["phase"] == SUCCEEDED, result
    assert (result["outputs"]["o0"], result["outputs"]["o1"]) == (14, 2)
    assert clusters_of(stack, name) == [records]  # adopted, not started again
    wait_for(lambda: not any(alive(pid) for pid in roles.values()), 60, "the adopted cluster to be stopped")


@pytest.mark.timeout(1200)  # three Ray nodes start slowly on a small shared machine
def test_ray_task_runs_remote_work_on_its_own_cluster(stack: Any, registered: str) -> None:
    name = stack.driver("start", registered, "flows.ray_clusters.ray_wf", json.dumps({"n": 10}))["name"]
    result = stack.driver("wait", name, "--timeout", "900", timeout=1000)
    assert result["phase"] == SUCCEEDED, result
    assert (result["outputs"]["o0"], result["outputs"]["o1"]) == (285, 3)  # head + 2 worker nodes alive
    assert result["outputs"]["o2"] == "hello from the runtime env"  # the spec's runtime env reached the workers
    (records,) = clusters_of(stack, name, "ray")
    roles = pids(records)
    assert sorted(roles) == ["head", "worker-0", "worker-1"]
    wait_for(lambda: not any(alive(pid) for pid in roles.values()), 90, "the ray cluster to be stopped")
    scratch = Path((records.parent / "scratch").read_text())
    assert not scratch.exists()  # Ray's session directory is removed with the cluster
