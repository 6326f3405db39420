"""Ray and Dask tasks as Kubernetes custom resources, built as Flyte's k8s plugins build them (flyteplugins
``k8s/ray`` and ``k8s/dask``): KubeRay ``RayJob`` (ray.io/v1) and the Dask operator's ``DaskJob``
(kubernetes.dask.org/v1). Every pod of the job starts from the task's own pod (``build_pod``: image, resources, env,
labels, placement) with its primary container renamed and re-purposed per role; status is mapped to phases as Flyte
maps it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml
from flyteidl.core import tasks_pb2
from flyteidl.plugins import ray_pb2
from google.protobuf import json_format

from aloft_propeller.plugins.base import ErrorKind, Phase, PhaseInfo, TaskExecutionContext
from aloft_propeller.plugins.clusters.engines import ClusterSpecError, DaskEngine, RayEngine, ray_runtime_env
from aloft_propeller.plugins.k8s.merge import overlay_pod_spec
from aloft_propeller.plugins.k8s.resources import task_resources
from aloft_propeller.plugins.k8s.status import failure

Obj = dict[str, Any]
# Flyte's ray plugin defaults (plugins.ray.shutdownAfterJobFinishes / ttlSecondsAfterFinished).
RAY_SHUTDOWN_AFTER_JOB_FINISHES = True
RAY_TTL_SECONDS_AFTER_FINISHED = 3600


@dataclass(frozen=True)
class JobKind:
    """One custom resource kind: where it lives and how the plugin builds and reads it."""

    task_type: str
    group: str
    version: str
    kind: str
    plural: str
    build: Callable[[TaskExecutionContext, Obj, str], Obj]  # (ctx, the task's pod, primary container) → spec
    phase: Callable[[Obj], PhaseInfo]
    # Label selector of the pod the log links point at (the Ray head / the Dask scheduler), from the object.
    log_pod_selector: Callable[[Obj], str]
    log_container: str


def _primary(pod_spec: Obj, primary: str) -> Obj:
    for container in pod_spec["containers"]:
        if container["name"] == primary:
            return dict(container)
    raise ValueError(f"the task's pod has no container named {primary!r}")


def _with_primary(pod: Obj, primary: str, change: Callable[[Obj], None], restart: str) -> Obj:
    """A copy of the task's pod spec whose primary container is changed for a role."""
    spec = copy.deepcopy(pod["spec"])
    containers = []
    for container in spec["containers"]:
        if container["name"] == primary:
            container = dict(container)
            change(container)
        containers.append(container)
    spec["containers"] = containers
    spec["restartPolicy"] = restart
    return spec


def _resources(resources: tasks_pb2.Resources) -> Obj | None:
    """A group's own resources (requests/limits) when its spec sets any, as Flyte's ToK8sResourceRequirements."""
    if not resources.requests and not resources.limits:
        return None
    holder = tasks_pb2.TaskTemplate(container=tasks_pb2.Container(resources=resources))
    requests, limits = task_resources(holder)
    return {"requests": requests, "limits": limits}


def _template_meta(pod: Obj, k8s_pod: tasks_pb2.K8sPod | None = None) -> Obj:
    """A pod template's metadata: the task pod's labels/annotations, then the group's own ``k8s_pod`` ones."""
    meta = pod["metadata"]
    labels, annotations = dict(meta.get("labels") or {}), dict(meta.get("annotations") or {})
    if k8s_pod is not None:
        labels.update(k8s_pod.metadata.labels)
        annotations.update(k8s_pod.metadata.annotations)
    return {"labels": labels, "annotations": annotations}


def _group_template(pod: Obj, spec: Obj, k8s_pod: tasks_pb2.K8sPod) -> Obj:
    """A Ray group's pod template: its role's pod spec with the group's ``k8s_pod`` pod spec laid over it (Flyte's
    mergeCustomPodSpec: containers named ``ray-head`` / ``ray-worker`` there shape the role's container)."""
    if k8s_pod.HasField("pod_spec"):
        overlay = json_format.MessageToDict(k8s_pod.pod_spec)
        if not isinstance(overlay.get("containers", []), list):
            raise ClusterSpecError(
                f"the ray group's k8s_pod pod_spec has malformed containers: {overlay['containers']!r}"
            )
        spec = overlay_pod_spec(spec, overlay)
    return {"metadata": _template_meta(pod, k8s_pod), "spec": spec}


# ---- Dask ------------------------------------------------------------------------------------------------------


def _dask_role(container: Obj, name: str, image: str, resources: tasks_pb2.Resources) -> None:
    """The primary container as a Dask role: its name, the spec's image and resources when set, its own args."""
    container["name"] = name
    if image:
        container["image"] = image
    own = _resources(resources)
    if own is not None:
        container["resources"] = own
    container.pop("command", None)


def build_dask_job(ctx: TaskExecutionContext, pod: Obj, primary: str) -> Obj:
    job = DaskEngine.job(ctx.template)
    cluster_name = pod["metadata"]["name"]

    def worker(container: Obj) -> None:
        _dask_role(container, "dask-worker", job.workers.image, job.workers.resources)
        args = ["dask-worker", "--name", "$(DASK_WORKER_NAME)"]
        limits = (container.get("resources") or {}).get("limits") or {}
        if "cpu" in limits:
            args += ["--nthreads", str(_whole_cpus(str(limits["cpu"])))]
        if "memory" in limits:
            args += ["--memory-limit", str(limits["memory"])]
        container["args"] = args

    def scheduler(container: Obj) -> None:
        _dask_role(container, "scheduler", job.scheduler.image, job.scheduler.resources)
        container["args"] = ["dask-scheduler"]
        container["ports"] = [
            {"name": "tcp-comm", "containerPort": 8786, "protocol": "TCP"},
            {"name": "dashboard", "containerPort": 8787, "protocol": "TCP"},
        ]

    def runner(container: Obj) -> None:
        container["name"] = "job-runner"

    _primary(pod["spec"], primary)
    service = {
        "type": "NodePort",
        "selector": {"dask.org/cluster-name": cluster_name, "dask.org/component": "scheduler"},
        "ports": [
            {"name": "tcp-comm", "protocol": "TCP", "port": 8786, "targetPort": "tcp-comm"},
            {"name": "dashboard", "protocol": "TCP", "port": 8787, "targetPort": "dashboard"},
        ],
    }
    return {
        "job": {"spec": _with_primary(pod, primary, runner, "Never")},
        "cluster": {
            "metadata": _template_meta(pod),
            "spec": {
                "worker": {
                    "replicas": job.workers.number_of_workers,
                    "spec": _with_primary(pod, primary, worker, "Always"),
                },
                "scheduler": {"spec": _with_primary(pod, primary, scheduler, "Always"), "service": service},
            },
        },
    }


def _whole_cpus(quantity: str) -> int:
    """Kubernetes' Quantity.Value() of a cpu quantity: whole CPUs rounded up."""
    if quantity.endswith("m"):
        return -(-int(float(quantity[:-1])) // 1000)
    return -(-int(float(quantity) * 1000) // 1000)


def dask_phase(obj: Obj) -> PhaseInfo:
    status = (obj.get("status") or {}).get("jobStatus", "")
    if status == "Successful":
        return PhaseInfo(Phase.SUCCESS, reason="Dask job succeeded")
    if status == "Failed":
        return failure(Phase.RETRYABLE_FAILURE, "DownstreamSystemError", "Dask Job failed", ErrorKind.SYSTEM)
    if status in ("", "JobCreated", "ClusterCreated"):
        reason = {"": "unknown", "JobCreated": "job created", "ClusterCreated": "cluster created"}[status]
        return PhaseInfo(Phase.INITIALIZING, reason=reason)
    return PhaseInfo(Phase.RUNNING, reason=f"Dask job {status}")


# ---- Ray -------------------------------------------------------------------------------------------------------

RAY_PORTS = [
    {"name": "redis", "containerPort": 6379},
    {"name": "head", "containerPort": 10001},
    {"name": "dashboard", "containerPort": 8265},
]


def _resource_env(name: str, resource: str) -> Obj:
    return {"name": name, "valueFrom": {"resourceFieldRef": {"containerName": "ray-worker", "resource": resource}}}


# Flyte's buildWorkerPodTemplate environment (KubeRay's apiserver defaults).
RAY_WORKER_ENV = [
    {"name": "RAY_DISABLE_DOCKER_CPU_WARNING", "value": "1"},
    {"name": "TYPE", "value": "worker"},
    _resource_env("CPU_REQUEST", "requests.cpu"),
    _resource_env("CPU_LIMITS", "limits.cpu"),
    _resource_env("MEMORY_REQUESTS", "requests.memory"),
    _resource_env("MEMORY_LIMITS", "limits.memory"),
    {"name": "MY_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    {"name": "MY_POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
]


def _runtime_env_yaml(job: ray_pb2.RayJob) -> str:
    """``runtime_env_yaml`` as given, else flytekit's base64 JSON runtime env as the YAML KubeRay reads (Flyte's
    convertBase64RuntimeEnvToYaml)."""
    if job.runtime_env_yaml:
        return job.runtime_env_yaml
    if not job.runtime_env:
        return ""
    return yaml.safe_dump(ray_runtime_env(job), sort_keys=True)


def build_ray_job(ctx: TaskExecutionContext, pod: Obj, primary: str) -> Obj:
    job = RayEngine.job(ctx.template)
    entry = _primary(pod["spec"], primary)
    head_params = dict(job.ray_cluster.head_group_spec.ray_start_params)
    head_params.setdefault("dashboard-host", "0.0.0.0")
    head_params.setdefault("disable-usage-stats", "true")

    def head(container: Obj) -> None:
        container["name"] = "ray-head"
        container["args"] = []
        container.pop("command", None)
        container["env"] = [
            *(container.get("env") or []),
            {"name": "MY_POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        ]
        container["ports"] = [*(container.get("ports") or []), *RAY_PORTS]

    def worker(container: Obj) -> None:
        container["name"] = "ray-worker"
        container["args"] = []
        container.pop("command", None)
        container["env"] = [*(container.get("env") or []), *RAY_WORKER_ENV]
        container["lifecycle"] = {"preStop": {"exec": {"command": ["/bin/sh", "-c", "ray stop"]}}}
        container["ports"] = [*(container.get("ports") or []), *RAY_PORTS]

    groups = []
    for group in job.ray_cluster.worker_group_spec:
        params = dict(group.ray_start_params)
        params.setdefault("disable-usage-stats", "true")
        groups.append(
            {
                "groupName": group.group_name,
                "replicas": group.replicas,
                "minReplicas": min(group.min_replicas, group.replicas),
                "maxReplicas": max(group.max_replicas, group.replicas),
                "rayStartParams": params,
                "template": _group_template(pod, _with_primary(pod, primary, worker, "Never"), group.k8s_pod),
            }
        )
    head_spec = _with_primary(pod, primary, head, "Never")
    shutdown, ttl = RAY_SHUTDOWN_AFTER_JOB_FINISHES, RAY_TTL_SECONDS_AFTER_FINISHED
    if job.shutdown_after_job_finishes:
        shutdown, ttl = True, job.ttl_seconds_after_finished
    runtime_env = _runtime_env_yaml(job)
    # The task's command is the job's entrypoint, run by KubeRay's submitter against the cluster.
    words = [*(entry.get("command") or []), *(entry.get("args") or [])]
    spec: Obj = {
        "rayClusterSpec": {
            "headGroupSpec": {
                "rayStartParams": head_params,
                "enableIngress": False,
                "template": _group_template(pod, head_spec, job.ray_cluster.head_group_spec.k8s_pod),
            },
            "workerGroupSpecs": groups,
            "enableInTreeAutoscaling": job.ray_cluster.enable_autoscaling,
        },
        "entrypoint": " ".join(word or "''" for word in words),
        "shutdownAfterJobFinishes": shutdown,
        "ttlSecondsAfterFinished": ttl,
        "submitterPodTemplate": {"metadata": _template_meta(pod), "spec": copy.deepcopy(pod["spec"])},
    }
    if runtime_env:
        spec["runtimeEnvYAML"] = runtime_env
    return spec


def ray_phase(obj: Obj) -> PhaseInfo:
    status = obj.get("status") or {}
    deployment = status.get("jobDeploymentStatus", "")
    if deployment == "":
        return PhaseInfo(Phase.QUEUED, reason="Scheduling")
    if deployment == "Initializing":
        return PhaseInfo(Phase.INITIALIZING, reason="cluster is creating")
    if deployment in ("Running", "Retrying", "Waiting"):
        return PhaseInfo(Phase.RUNNING, reason=f"Ray job {status.get('jobStatus') or deployment}")
    if deployment == "Complete":
        return PhaseInfo(Phase.SUCCESS, reason="Ray job succeeded")
    if deployment in ("Suspended", "Suspending"):
        return PhaseInfo(Phase.QUEUED, reason=deployment)
    name = obj["metadata"]["name"]
    message = f"Failed to run Ray job {name} with error: [{status.get('reason', '')}] {status.get('message', '')}"
    if deployment == "ValidationFailed":  # KubeRay refused the spec: another attempt gets the same refusal
        return failure(Phase.PERMANENT_FAILURE, "RayJobValidationFailed", message, ErrorKind.USER)
    if deployment == "Failed":
        return failure(Phase.RETRYABLE_FAILURE, "TaskFailedWithError", message, ErrorKind.SYSTEM)
    return failure(
        Phase.RETRYABLE_FAILURE,
        "UnknownJobDeploymentStatus",
        f"unknown job deployment status: {deployment}",
        ErrorKind.SYSTEM,
    )


def _ray_head_selector(obj: Obj) -> str:
    cluster = (obj.get("status") or {}).get("rayClusterName", "")
    return f"ray.io/cluster={cluster},ray.io/node-type=head" if cluster else ""


def _dask_scheduler_selector(obj: Obj) -> str:
    # The operator names the job's DaskCluster after the DaskJob.
    return f"dask.org/cluster-name={obj['metadata']['name']},dask.org/component=scheduler"


RAY_JOB = JobKind("ray", "ray.io", "v1", "RayJob", "rayjobs", build_ray_job, ray_phase, _ray_head_selector, "ray-head")
DASK_JOB = JobKind(
    "dask",
    "kubernetes.dask.org",
    "v1",
    "DaskJob",
    "daskjobs",
    build_dask_job,
    dask_phase,
    _dask_scheduler_selector,
    "scheduler",
)
