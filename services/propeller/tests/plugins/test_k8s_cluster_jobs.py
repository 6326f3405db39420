"""Ray and Dask tasks on Kubernetes (plugins `k8s-ray`, `k8s-dask`) against the Kubernetes API double
(aloft_testing.kube — no cluster can be installed here) with the CRDs registered, so every created object is
validated against a schema:
- crds/kubernetes.dask.org_daskjobs.yaml.gz: the DaskJob CRD shipped in the PyPI wheel dask-kubernetes 2026.3.0
  (dask_kubernetes/operator/deployment/helm/dask-kubernetes-operator/crds/daskjob.yaml),
- crds/ray.io_rayjobs.yaml: our own structural schema for KubeRay's RayJob. No registry this project may use
  distributes KubeRay's CRD: searched PyPI (codeflare-sdk 0.40.1 wheel and sdist — it vendors KubeRay's Python
  client, which builds objects but ships no CRD —, krayne, rayman, ray-serve-algenta, dagster-ray, ray's own wheel),
  npm (no KubeRay package among @kubernetes-models/*) and Debian (apt-cache: nothing). KubeRay publishes its CRDs
  only in its repository, Helm chart and Go module, none of them a PyPI/npm/Debian package. Our schema leaves pod
  templates open, so the Ray tests validate each embedded pod template against Kubernetes' own PodTemplate schema
  (kubernetes-validate).
No operator runs in the double: the tests write the status the operators write (status subresource) and the
head/scheduler pod they start."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from flyteidl.core import identifier_pb2, tasks_pb2
from google.protobuf import struct_pb2
from kubernetes import client, config

from aloft_propeller.config import K8sPluginConfig, LogsConfig, PluginsConfig, PropellerConfig
from aloft_propeller.plugins.base import ErrorKind, Phase, TaskExecutionContext
from aloft_propeller.plugins.k8s.cluster_jobs import DASK_JOB, RAY_JOB, JobKind
from aloft_propeller.plugins.k8s.job_plugin import K8sClusterJobPlugin
from aloft_propeller.plugins.registry import AVAILABLE_PLUGINS
from aloft_service.runtime import StackConfig
from aloft_storage import BlobStore, StorageConfig
from aloft_testing.kube import KubeDouble

MakeCtx = Callable[..., Awaitable[TaskExecutionContext]]
NAMESPACE = "flytesnacks-development"
CRDS = Path(__file__).parent / "crds"
LOGS = [{"displayName": "Head logs", "templateUris": ["https://logs/{{ .namespace }}/{{ .podName }}"]}]


def _api(kube: KubeDouble) -> client.ApiClient:
    return config.new_client_from_config(str(kube.kubeconfig))


@pytest.fixture(scope="module")
def crds() -> list[dict[str, Any]]:
    documents = [gzip.decompress(path.read_bytes()) for path in sorted(CRDS.glob("*.yaml.gz"))]
    documents += [path.read_bytes() for path in sorted(CRDS.glob("*.yaml"))]
    return [yaml.safe_load(document) for document in documents]


def _assert_valid_pod_templates(spec: dict[str, Any]) -> None:
    """Every pod template a RayJob embeds is a valid Kubernetes PodTemplate (the RayJob schema leaves them open)."""
    cluster = spec["rayClusterSpec"]
    templates = [cluster["headGroupSpec"]["template"], spec["submitterPodTemplate"]]
    templates += [group["template"] for group in cluster["workerGroupSpecs"]]
    for number, template in enumerate(templates):
        pod_template = {
            "apiVersion": "v1",
            "kind": "PodTemplate",
            "metadata": {"name": f"t{number}"},
            "template": template,
        }
        kubernetes_validate.validate(pod_template, kubernetes_validate.latest_version(), strict=True)


@pytest.fixture
def kube(tmp_path: Path, crds: list[dict[str, Any]]) -> Iterator[KubeDouble]:
    with KubeDouble(tmp_path / "kube") as double:
        api = _api(double)
        client.CoreV1Api(api).create_namespace({"metadata": {"name": NAMESPACE}})
        extensions = client.ApiextensionsV1Api(api)
        for crd in crds:
            extensions.create_custom_resource_definition(crd, _preload_content=False)
        deadline = time.monotonic() + 30
        while not all(_established(double, crd["spec"]["group"]) for crd in crds):
            assert time.monotonic() < deadline, "the CRDs were not established"
            time.sleep(0.05)
        yield double


def _established(kube: KubeDouble, group: str) -> bool:
    try:
        kube.rtype({"ray.io": "rayjobs", "kubernetes.dask.org": "daskjobs"}[group], group)
    except KeyError:
        return False
    return True


@pytest.fixture
def make_plugin(
    kube: KubeDouble, tmp_path: Path, storage_config: StorageConfig, blobs: BlobStore
) -> Iterator[Callable[[JobKind], K8sClusterJobPlugin]]:
    plugins: list[K8sClusterJobPlugin] = []

    def build(kind: JobKind, **settings: Any) -> K8sClusterJobPlugin:
        k8s = K8sPluginConfig.model_validate(
            # resync-period bounds each watch request (the double holds a watch open until it times out)
            {"kube-config": str(kube.kubeconfig), "default-labels": {"team": "ml"}, "resync-period": "2s", **settings}
        )
        propeller = PropellerConfig(
            stack=StackConfig(dataDir=str(tmp_path / "stack")),
            storage=storage_config,
            plugins=PluginsConfig(k8s=k8s, logs=LogsConfig.model_validate({"templates": LOGS})),
        )
        plugin = K8sClusterJobPlugin(propeller, blobs, kind)
        plugins.append(plugin)
        return plugin

    yield build
    for plugin in plugins:
        plugin.close()


def _template(task_type: str, custom: dict[str, Any]) -> tasks_pb2.TaskTemplate:
    struct = struct_pb2.Struct()
    struct.update(custom)
    limits = [
        tasks_pb2.Resources.ResourceEntry(name=tasks_pb2.Resources.CPU, value="1"),
        tasks_pb2.Resources.ResourceEntry(name=tasks_pb2.Resources.MEMORY, value="1Gi"),
    ]
    return tasks_pb2.TaskTemplate(
        id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK, project="flytesnacks", domain="development", name="t", version="1"
        ),
        type=task_type,
        custom=struct,
        container=tasks_pb2.Container(
            image="ghcr.io/flyteorg/flytekit:py3.11",
            args=["pyflyte-execute", "--inputs", "{{.input}}", "--resolver", ""],
            resources=tasks_pb2.Resources(limits=limits),
        ),
    )


def _set_status(kube: KubeDouble, kind: JobKind, name: str, status: dict[str, Any]) -> None:
    objects = client.CustomObjectsApi(_api(kube))
    body = {"status": status}
    objects.patch_namespaced_custom_object_status(kind.group, kind.version, NAMESPACE, kind.plural, name, body)


def _start_pod(kube: KubeDouble, name: str, labels: dict[str, str], container: str) -> None:
    pod = {
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels},
        "spec": {"restartPolicy": "Never", "containers": [{"name": container, "image": "i", "command": ["true"]}]},
    }
    client.CoreV1Api(_api(kube)).create_namespaced_pod(NAMESPACE, pod)


RAY_CUSTOM = {
    "rayCluster": {
        "headGroupSpec": {"rayStartParams": {"num-cpus": "1"}},
        "workerGroupSpec": [
            {"groupName": "workers", "replicas": 2, "minReplicas": 3, "maxReplicas": 1, "rayStartParams": {}}
        ],
    },
    "runtimeEnv": base64.b64encode(json.dumps({"pip": ["numpy"]}).encode()).decode(),
    "shutdownAfterJobFinishes": True,
    "ttlSecondsAfterFinished": 60,
}


async def test_ray_task_becomes_a_valid_ray_job(kube: KubeDouble, make_plugin: Any, make_ctx: MakeCtx) -> None:
    ctx = await make_ctx(_template("ray", RAY_CUSTOM))
    plugin = make_plugin(RAY_JOB)
    answer = await plugin.handle(ctx)
    # The double validated the object against the RayJob schema (an invalid one is refused: 422, a failure).
    assert answer.info.phase == Phase.QUEUED and answer.plugin_state == b"created", answer
    job = kube.get("rayjobs", NAMESPACE, ctx.unique_id, group="ray.io")
    assert job is not None and job["kind"] == "RayJob" and job["apiVersion"] == "ray.io/v1"
    spec = job["spec"]
    assert spec["entrypoint"].startswith("pyflyte-execute --inputs ") and spec["entrypoint"].endswith("--resolver ''")
    assert spec["shutdownAfterJobFinishes"] is True and spec["ttlSecondsAfterFinished"] == 60
    assert yaml.safe_load(spec["runtimeEnvYAML"]) == {"pip": ["numpy"]}
    cluster = spec["rayClusterSpec"]
    head = cluster["headGroupSpec"]
    assert head["rayStartParams"] == {"num-cpus": "1", "dashboard-host": "0.0.0.0", "disable-usage-stats": "true"}
    head_container = head["template"]["spec"]["containers"][0]
    assert head_container["name"] == "ray-head" and head_container["image"] == "ghcr.io/flyteorg/flytekit:py3.11"
    assert head_container["resources"]["limits"] == {"cpu": "1", "memory": "1Gi"}
    assert {p["name"] for p in head_container["ports"]} == {"redis", "head", "dashboard"}
    assert head["template"]["metadata"]["labels"]["team"] == "ml"
    (group,) = cluster["workerGroupSpecs"]
    assert (group["groupName"], group["replicas"], group["minReplicas"], group["maxReplicas"]) == ("workers", 2, 2, 2)
    assert group["template"]["spec"]["containers"][0]["name"] == "ray-worker"
    submitter = spec["submitterPodTemplate"]["spec"]["containers"][0]
    assert submitter["args"][0] == "pyflyte-execute"
    _assert_valid_pod_templates(spec)

    # A restarted propeller (new plugin, no plugin state) follows the same job instead of creating another.
    again = await make_plugin(RAY_JOB).handle(ctx)
    assert again.info.phase == Phase.QUEUED and again.plugin_state == b"created"
    assert [name for _, name, _ in kube.created("rayjobs")] == [ctx.unique_id]

    name = ctx.unique_id
    _set_status(kube, RAY_JOB, name, {"jobDeploymentStatus": "Initializing", "rayClusterName": "rc-1"})
    assert (await plugin.handle(ctx)).info.phase == Phase.INITIALIZING
    _start_pod(kube, "rc-1-head-x7k2p", {"ray.io/cluster": "rc-1", "ray.io/node-type": "head"}, "ray-head")
    _set_status(kube, RAY_JOB, name, {"jobDeploymentStatus": "Running", "jobStatus": "RUNNING"})
    running = (await plugin.handle(ctx)).info
    assert running.phase == Phase.RUNNING
    assert [link.uri for link in running.logs] == [f"https://logs/{NAMESPACE}/rc-1-head-x7k2p"]
    _set_status(kube, RAY_JOB, name, {"jobDeploymentStatus": "Failed", "reason": "AppFailed", "message": "boom"})
    failed = (await plugin.handle(ctx)).info
    assert failed.phase == Phase.RETRYABLE_FAILURE and failed.error is not None
    assert failed.error.kind == ErrorKind.SYSTEM and "[AppFailed] boom" in failed.error.message
    _set_status(kube, RAY_JOB, name, {"jobDeploymentStatus": "Complete", "jobStatus": "SUCCEEDED"})
    assert (await plugin.handle(ctx)).info.phase == Phase.SUCCESS

    await plugin.abort(ctx, "user abort")
    assert kube.get("rayjobs", NAMESPACE, name, group="ray.io") is None
    gone = await plugin.handle(replace(ctx, plugin_state=b"created"))
    assert gone.info.phase == Phase.RETRYABLE_FAILURE


async def test_the_crd_schema_is_enforced(kube: KubeDouble) -> None:
    """Proof that the validation above is real: a RayJob with a wrongly typed field is refused."""
    objects = client.CustomObjectsApi(_api(kube))
    body = {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {"name": "bad", "namespace": NAMESPACE},
        "spec": {"entrypoint": "x", "ttlSecondsAfterFinished": "soon"},
    }
    with pytest.raises(client.ApiException) as refused:
        objects.create_namespaced_custom_object("ray.io", "v1", NAMESPACE, "rayjobs", body)
    assert refused.value.status == 422


DASK_CUSTOM = {
    "scheduler": {"image": "scheduler:1"},
    "workers": {
        "numberOfWorkers": 3,
        "image": "worker:1",
        "resources": {"limits": [{"name": "CPU", "value": "1500m"}, {"name": "MEMORY", "value": "4Gi"}]},
    },
}


async def test_dask_task_becomes_a_valid_dask_job(kube: KubeDouble, make_plugin: Any, make_ctx: MakeCtx) -> None:
    ctx = await make_ctx(_template("dask", DASK_CUSTOM))
    plugin = make_plugin(DASK_JOB)
    answer = await plugin.handle(ctx)
    assert answer.info.phase == Phase.QUEUED, answer
    name = ctx.unique_id
    job = kube.get("daskjobs", NAMESPACE, name, group="kubernetes.dask.org")
    assert job is not None and job["kind"] == "DaskJob"
    runner = job["spec"]["job"]["spec"]
    assert runner["restartPolicy"] == "Never" and runner["containers"][0]["name"] == "job-runner"
    assert runner["containers"][0]["args"][0] == "pyflyte-execute"
    cluster = job["spec"]["cluster"]["spec"]
    worker = cluster["worker"]["spec"]["containers"][0]
    assert cluster["worker"]["replicas"] == 3 and worker["image"] == "worker:1"
    assert worker["args"] == [
        "dask-worker",
        "--name",
        "$(DASK_WORKER_NAME)",
        "--nthreads",
        "2",
        "--memory-limit",
        "4Gi",
    ]
    scheduler = cluster["scheduler"]["spec"]["containers"][0]
    assert scheduler["image"] == "scheduler:1" and scheduler["args"] == ["dask-scheduler"]
    assert scheduler["resources"]["limits"] == {"cpu": "1", "memory": "1Gi"}  # the task's own
    assert cluster["scheduler"]["service"]["selector"]["dask.org/cluster-name"] == name

    assert (await plugin.handle(ctx)).info.phase == Phase.INITIALIZING  # no status yet
    _set_status(kube, DASK_JOB, name, {"jobStatus": "ClusterCreated"})
    assert (await plugin.handle(ctx)).info.phase == Phase.INITIALIZING
    scheduler_pod = f"{name}-scheduler"
    _start_pod(kube, scheduler_pod, {"dask.org/cluster-name": name, "dask.org/component": "scheduler"}, "scheduler")
    _set_status(kube, DASK_JOB, name, {"jobStatus": "Running", "jobRunnerPodName": f"{name}-runner"})
    running = (await plugin.handle(ctx)).info
    assert running.phase == Phase.RUNNING
    assert [link.uri for link in running.logs] == [f"https://logs/{NAMESPACE}/{scheduler_pod}"]
    _set_status(kube, DASK_JOB, name, {"jobStatus": "Failed"})
    assert (await plugin.handle(ctx)).info.phase == Phase.RETRYABLE_FAILURE
    _set_status(kube, DASK_JOB, name, {"jobStatus": "Successful"})
    assert (await plugin.handle(ctx)).info.phase == Phase.SUCCESS
    await plugin.abort(ctx, "user abort")
    assert kube.get("daskjobs", NAMESPACE, name, group="kubernetes.dask.org") is None


async def test_unusable_spec_fails_permanently(kube: KubeDouble, make_plugin: Any, make_ctx: MakeCtx) -> None:
    ctx = await make_ctx(_template("ray", {"runtimeEnv": "not base64 json"}))
    info = (await make_plugin(RAY_JOB).handle(ctx)).info
    assert info.phase == Phase.PERMANENT_FAILURE and info.error is not None and info.error.kind == ErrorKind.USER
    assert kube.created("rayjobs") == []


def test_registered_plugin_ids() -> None:
    assert {"k8s-ray", "k8s-dask"} <= set(AVAILABLE_PLUGINS)


# What flytekit 1.16.31 serializes (`get_custom`, `get_default_command`) for
# `@task(task_config=RayJobConfig(head_node_config=HeadNodeConfig(ray_start_params={"num-cpus": "1"}),
#   worker_node_config=[WorkerNodeConfig(group_name="g", replicas=2)], runtime_env={"pip": ["numpy"]},
#   shutdown_after_job_finishes=True, ttl_seconds_after_finished=30))` and
# `@task(task_config=Dask(scheduler=Scheduler(requests=Resources(cpu="1")),
#   workers=WorkerGroup(number_of_workers=2, limits=Resources(cpu="2", mem="2Gi"))))`.
FLYTEKIT_ARGS = [
    "pyflyte-execute", "--inputs", "{{.input}}", "--output-prefix", "{{.outputPrefix}}", "--raw-output-data-prefix",
    "{{.rawOutputDataPrefix}}", "--checkpoint-path", "{{.checkpointOutputPrefix}}", "--prev-checkpoint",
    "{{.prevCheckpointPrefix}}", "--resolver", "flytekit.core.python_auto_container.default_task_resolver", "--",
    "task-module", "wf", "task-name", "t",
]  # fmt: skip
FLYTEKIT_RAY = {
    "rayCluster": {
        "headGroupSpec": {"rayStartParams": {"num-cpus": "1"}},
        "workerGroupSpec": [{"groupName": "g", "replicas": 2, "minReplicas": 2, "maxReplicas": 2}],
    },
    "runtimeEnv": "eyJwaXAiOiBbIm51bXB5Il19",
    "shutdownAfterJobFinishes": True,
    "ttlSecondsAfterFinished": 30,
    "runtimeEnvYaml": "pip:\n- numpy\n",
}
FLYTEKIT_DASK = {
    "scheduler": {"resources": {"requests": [{"name": "CPU", "value": "1"}]}},
    "workers": {
        "numberOfWorkers": 2,
        "resources": {"limits": [{"name": "CPU", "value": "2"}, {"name": "MEMORY", "value": "2Gi"}]},
    },
}


@pytest.mark.parametrize(("kind", "custom"), [(RAY_JOB, FLYTEKIT_RAY), (DASK_JOB, FLYTEKIT_DASK)])
async def test_flytekit_specs_make_valid_jobs(
    kube: KubeDouble, make_plugin: Any, make_ctx: MakeCtx, kind: JobKind, custom: dict[str, Any]
) -> None:
    template = _template(kind.task_type, custom)
    del template.container.args[:]
    template.container.args.extend(FLYTEKIT_ARGS)
    ctx = await make_ctx(template)
    answer = await make_plugin(kind).handle(ctx)
    assert answer.info.phase == Phase.QUEUED, answer  # accepted by the CRD's schema
    job = kube.get(kind.plural, NAMESPACE, ctx.unique_id, group=kind.group)
    assert job is not None
    if kind is RAY_JOB:
        entrypoint = job["spec"]["entrypoint"]
        assert entrypoint.startswith("pyflyte-execute --inputs ") and entrypoint.endswith("task-name t")
        assert "{{" not in entrypoint and job["spec"]["runtimeEnvYAML"] == "pip:\n- numpy\n"
    else:
        worker = job["spec"]["cluster"]["spec"]["worker"]["spec"]["containers"][0]
        assert worker["args"][-4:] == ["--nthreads", "2", "--memory-limit", "2Gi"]
        assert job["spec"]["job"]["spec"]["containers"][0]["args"][-1] == "t"


async def test_create_conflict_adopts_the_existing_job(
    kube: KubeDouble, make_plugin: Any, make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another propeller created the job between this one's read and create: the AlreadyExists adopts it."""
    ctx = await make_ctx(_template("dask", DASK_CUSTOM))
    assert (await make_plugin(DASK_JOB).handle(ctx)).info.phase == Phase.QUEUED
    late = make_plugin(DASK_JOB)
    real_read = late._read
    reads: list[str] = []

    async def stale_first_read(namespace: str, name: str) -> dict[str, Any] | None:
        reads.append(name)
        return None if len(reads) == 1 else await real_read(namespace, name)

    monkeypatch.setattr(late, "_read", stale_first_read)
    answer = await late.handle(ctx)
    assert answer.info.phase == Phase.INITIALIZING and answer.plugin_state == b"created"  # observed, not created
    assert len(reads) == 2 and [name for _, name, _ in kube.created("daskjobs")] == [ctx.unique_id]


async def test_pod_templates_shape_every_pod(kube: KubeDouble, make_plugin: Any, make_ctx: MakeCtx) -> None:
    """default-pod-template-name (and a task's pod_template_name) apply to the job's pods as to a task pod."""
    toleration = {"key": "ray", "operator": "Exists", "effect": "NoSchedule"}
    body = {
        "metadata": {"name": "flyte-template"},
        "template": {
            "metadata": {"labels": {"from": "template"}},
            "spec": {"containers": [{"name": "default", "image": "x"}], "tolerations": [toleration]},
        },
    }
    client.CoreV1Api(_api(kube)).create_namespaced_pod_template(NAMESPACE, body)
    ctx = await make_ctx(_template("ray", RAY_CUSTOM))
    plugin = make_plugin(RAY_JOB, **{"default-pod-template-name": "flyte-template"})
    assert (await plugin.handle(ctx)).info.phase == Phase.QUEUED
    job = kube.get("rayjobs", NAMESPACE, ctx.unique_id, group="ray.io")
    assert job is not None
    cluster = job["spec"]["rayClusterSpec"]
    for template in (cluster["headGroupSpec"]["template"], cluster["workerGroupSpecs"][0]["template"]):
        assert template["metadata"]["labels"]["from"] == "template" and toleration in template["spec"]["tolerations"]

    named = _template("ray", RAY_CUSTOM)
    named.metadata.pod_template_name = "nope"
    info = (await plugin.handle(await make_ctx(named, node="n1"))).info
    assert info.phase == Phase.PERMANENT_FAILURE and info.error is not None and "nope" in info.error.message


@pytest.mark.parametrize(
    ("status", "phase", "kind"),
    [
        ({}, Phase.QUEUED, None),
        ({"jobDeploymentStatus": "Suspended"}, Phase.QUEUED, None),
        ({"jobDeploymentStatus": "Suspending"}, Phase.QUEUED, None),
        ({"jobDeploymentStatus": "Retrying"}, Phase.RUNNING, None),
        ({"jobDeploymentStatus": "ValidationFailed", "message": "bad"}, Phase.PERMANENT_FAILURE, ErrorKind.USER),
        ({"jobDeploymentStatus": "Exploded"}, Phase.RETRYABLE_FAILURE, ErrorKind.SYSTEM),
    ],
)
def test_ray_statuses_without_an_operator_run(status: dict[str, str], phase: Phase, kind: ErrorKind | None) -> None:
    info = RAY_JOB.phase({"metadata": {"name": "j"}, "status": status})
    assert info.phase == phase and (info.error.kind if info.error else None) == kind


RAY_WITH_GROUP_PODS = {
    "rayCluster": {
        "headGroupSpec": {
            "rayStartParams": {},
            "k8sPod": {
                "metadata": {"labels": {"role": "head"}, "annotations": {"a": "head"}},
                "podSpec": {
                    "containers": [
                        {"name": "ray-head", "resources": {"limits": {"cpu": "4"}, "requests": {"cpu": "2"}}},
                        {"name": "not-a-role", "image": "dropped"},
                    ],
                    "nodeSelector": {"pool": "head-pool"},
                },
            },
        },
        "workerGroupSpec": [
            {
                "groupName": "gpu",
                "replicas": 1,
                "k8sPod": {
                    "podSpec": {
                        "containers": [
                            {"name": "ray-worker", "image": "worker:gpu", "env": [{"name": "G", "value": "1"}]}
                        ],
                        "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
                    }
                },
            },
            {"groupName": "plain", "replicas": 1},
        ],
    },
}


async def test_group_pod_specs_shape_their_groups(kube: KubeDouble, make_plugin: Any, make_ctx: MakeCtx) -> None:
    """Each Ray group's k8s_pod (flytekit's HeadNodeConfig / WorkerNodeConfig pod_template or requests/limits) is
    laid over that group's pod as Flyte's mergeCustomPodSpec does: the role's container merged by name (values
    override, lists append), other overlay containers dropped, pod fields merged, the group's labels added."""
    ctx = await make_ctx(_template("ray", RAY_WITH_GROUP_PODS))
    assert (await make_plugin(RAY_JOB).handle(ctx)).info.phase == Phase.QUEUED  # valid against the schemas
    job = kube.get("rayjobs", NAMESPACE, ctx.unique_id, group="ray.io")
    assert job is not None
    cluster = job["spec"]["rayClusterSpec"]
    head = cluster["headGroupSpec"]["template"]
    (head_container,) = head["spec"]["containers"]
    assert head_container["name"] == "ray-head" and head_container["image"] == "ghcr.io/flyteorg/flytekit:py3.11"
    assert head_container["resources"]["limits"] == {"cpu": "4", "memory": "1Gi"}
    assert head_container["resources"]["requests"]["cpu"] == "2"
    assert head["spec"]["nodeSelector"] == {"pool": "head-pool"}
    assert head["metadata"]["labels"]["role"] == "head" and head["metadata"]["labels"]["team"] == "ml"
    assert head["metadata"]["annotations"]["a"] == "head"
    gpu, plain = cluster["workerGroupSpecs"]
    gpu_container = gpu["template"]["spec"]["containers"][0]
    assert gpu_container["image"] == "worker:gpu" and {"name": "G", "value": "1"} in gpu_container["env"]
    assert {"name": "TYPE", "value": "worker"} in gpu_container["env"]  # the role's own env is kept
    assert gpu["template"]["spec"]["tolerations"] == [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]
    plain_container = plain["template"]["spec"]["containers"][0]
    assert (
        plain_container["image"] == "ghcr.io/flyteorg/flytekit:py3.11"
        and "tolerations" not in plain["template"]["spec"]
    )
    assert "role" not in plain["template"]["metadata"]["labels"]
    _assert_valid_pod_templates(job["spec"])


async def test_status_changes_wake_the_workflow(kube: KubeDouble, make_plugin: Any, make_ctx: MakeCtx) -> None:
    """The plugin watches its kind: a status the operator writes wakes the attempt's workflow at once (the
    controller's listener), while an update that leaves the status alone does not."""
    ctx = await make_ctx(_template("dask", DASK_CUSTOM), execution="watched")
    plugin = make_plugin(DASK_JOB)
    woken: asyncio.Queue[identifier_pb2.WorkflowExecutionIdentifier] = asyncio.Queue()
    plugin.set_exit_listener(woken.put_nowait)
    assert (await plugin.handle(ctx)).info.phase == Phase.QUEUED
    assert await asyncio.to_thread(plugin._watch.synced.wait, 30), "the watch never listed"
    await _drain(woken)  # the object's first sighting (ADDED, or the initial list) may wake it once

    objects = client.CustomObjectsApi(_api(kube))
    patch = {"metadata": {"annotations": {"touched": "yes"}}}
    await asyncio.to_thread(
        objects.patch_namespaced_custom_object, "kubernetes.dask.org", "v1", NAMESPACE, "daskjobs", ctx.unique_id, patch
    )
    await asyncio.to_thread(_set_status, kube, DASK_JOB, ctx.unique_id, {"jobStatus": "Running"})
    execution = await asyncio.wait_for(woken.get(), timeout=30)
    assert (execution.project, execution.domain, execution.name) == ("flytesnacks", "development", "watched")
    assert woken.empty()  # the annotation-only change woke nothing; the status change once
    assert (await plugin.handle(ctx)).info.phase == Phase.RUNNING


async def _drain(queue: asyncio.Queue[Any], settle: float = 0.5) -> None:
    """Empty the queue once it has been quiet for `settle` seconds."""
    while True:
        try:
            await asyncio.wait_for(queue.get(), timeout=settle)
        except TimeoutError:
            return
