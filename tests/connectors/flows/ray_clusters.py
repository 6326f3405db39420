"""A flytekitplugins-ray task: `ray.remote` work on the attempt's embedded cluster (a head and 2 worker nodes), with
a runtime env whose env_vars reach the job's Ray workers."""

from __future__ import annotations

import os

import ray
from flytekit import task, workflow
from flytekitplugins.ray import HeadNodeConfig, RayJobConfig, WorkerNodeConfig


@ray.remote
def square(x: int) -> int:
    return x * x


@ray.remote
def greeting() -> str:
    return os.environ.get("ALOFT_RAY_GREETING", "")


@task(
    task_config=RayJobConfig(
        head_node_config=HeadNodeConfig(ray_start_params={"num-cpus": "1"}),
        worker_node_config=[WorkerNodeConfig(group_name="workers", replicas=2, ray_start_params={"num-cpus": "1"})],
        runtime_env={"env_vars": {"ALOFT_RAY_GREETING": "hello from the runtime env"}},
    )
)
def ray_squares(n: int) -> tuple[int, int, str]:
    total = sum(ray.get([square.remote(i) for i in range(n)]))
    nodes = len([node for node in ray.nodes() if node["Alive"]])
    return total, nodes, ray.get(greeting.remote())


@workflow
def ray_wf(n: int) -> tuple[int, int, str]:
    return ray_squares(n=n)
