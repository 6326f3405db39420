"""A flytekitplugins-ray task for Kubernetes (tests/kube: the k8s-ray plugin makes it a KubeRay RayJob): the head's
requests and a worker group's pod template are the groups' own pod overrides."""

from __future__ import annotations

from flytekit import PodTemplate, Resources, task, workflow
from flytekitplugins.ray import HeadNodeConfig, RayJobConfig, WorkerNodeConfig
from kubernetes.client import V1Container, V1PodSpec, V1Toleration

GPU_WORKERS = PodTemplate(
    pod_spec=V1PodSpec(
        containers=[V1Container(name="ray-worker", image="ray-gpu:1")],
        tolerations=[V1Toleration(key="gpu", operator="Exists", effect="NoSchedule")],
    ),
    labels={"pool": "gpu"},
)


@task(
    task_config=RayJobConfig(
        head_node_config=HeadNodeConfig(ray_start_params={"num-cpus": "1"}, requests=Resources(cpu="1", mem="1Gi")),
        worker_node_config=[WorkerNodeConfig(group_name="gpu", replicas=1, pod_template=GPU_WORKERS)],
        runtime_env={"env_vars": {"GREETING": "hi"}},
        shutdown_after_job_finishes=True,
        ttl_seconds_after_finished=60,
    )
)
def ray_sum(n: int) -> int:
    return n


@workflow
def ray_wf(n: int = 3) -> int:
    return ray_sum(n=n)
