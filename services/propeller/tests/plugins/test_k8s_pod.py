"""The k8s pod plugin against the Kubernetes API double (aloft_testing.kube — a double: no cluster can be installed
here). The plugin is the code that runs against a real cluster; the double runs each pod's primary container as a
local process, so exits, outputs and failures are real."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flyteidl.core import identifier_pb2, interface_pb2, literals_pb2, security_pb2, tasks_pb2
from google.protobuf import json_format, struct_pb2
from kubernetes import client, config

from aloft_propeller.config import K8sPluginConfig, LogsConfig, PluginsConfig, PropellerConfig
from aloft_propeller.plugins.base import ErrorKind, Phase, PhaseInfo, Resources, TaskExecutionContext
from aloft_propeller.plugins.k8s import K8sPodPlugin
from aloft_service.runtime import StackConfig
from aloft_storage import BlobStore, StorageConfig
from aloft_testing.kube import EVICTED, IMAGE_PULL, OOM_KILLED, KubeDouble

MakeCtx = Callable[..., Awaitable[TaskExecutionContext]]
Drive = Callable[..., Awaitable[PhaseInfo]]
NAMESPACE = "flytesnacks-development"


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[KubeDouble]:
    with KubeDouble(tmp_path / "kube") as double:
        v1 = client.CoreV1Api(config.new_client_from_config(str(double.kubeconfig)))
        for namespace in (NAMESPACE, "flyte"):
            v1.create_namespace({"metadata": {"name": namespace}})
        yield double


@pytest.fixture
def v1(kube: KubeDouble) -> client.CoreV1Api:
    return client.CoreV1Api(config.new_client_from_config(str(kube.kubeconfig)))


@pytest.fixture
def make_plugin(
    kube: KubeDouble, tmp_path: Path, storage_config: StorageConfig, blobs: BlobStore
) -> Iterator[Callable[..., K8sPodPlugin]]:
    plugins: list[K8sPodPlugin] = []

    def build(logs: list[dict[str, Any]] | None = None, **settings: Any) -> K8sPodPlugin:
        k8s = K8sPluginConfig.model_validate({"kube-config": str(kube.kubeconfig), "resync-period": "2s", **settings})
        plugins_config = PluginsConfig(k8s=k8s, logs=LogsConfig.model_validate({"templates": logs or []}))
        propeller = PropellerConfig(
            stack=StackConfig(dataDir=str(tmp_path / "stack")), storage=storage_config, plugins=plugins_config
        )
        plugin = K8sPodPlugin(propeller, blobs)
        plugins.append(plugin)
        return plugin

    yield build
    for plugin in plugins:
        plugin.close()


def _template(script: str, name: str = "shell", **fields: Any) -> tasks_pb2.TaskTemplate:
    template = tasks_pb2.TaskTemplate(
        id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK, project="flytesnacks", domain="development", name=name, version="v1"
        ),
        type="container",
        interface=interface_pb2.TypedInterface(),
        container=tasks_pb2.Container(image="alpine:3.19", command=["sh", "-c", script]),
        **fields,
    )
    return template


def _resources(**values: str) -> list[tasks_pb2.Resources.ResourceEntry]:
    names = {"cpu": tasks_pb2.Resources.CPU, "memory": tasks_pb2.Resources.MEMORY, "gpu": tasks_pb2.Resources.GPU}
    return [tasks_pb2.Resources.ResourceEntry(name=names[k], value=v) for k, v in values.items()]


def _stored(kube: KubeDouble, ctx: TaskExecutionContext) -> dict[str, Any]:
    pod = kube.get("pods", NAMESPACE, ctx.unique_id)
    assert pod is not None
    return pod


async def test_pod_built_from_task_and_config(
    kube: KubeDouble, make_plugin: Any, make_ctx: MakeCtx, drive: Drive
) -> None:
    plugin = make_plugin(
        **{
            "default-labels": {"team": "ml"},
            "default-annotations": {"cost-center": "42"},
            "default-env-vars": {"SHARED": "yes"},
            "interruptible-tolerations": [{"key": "spot", "operator": "Exists", "effect": "NoSchedule"}],
            "interruptible-node-selector": {"lifecycle": "spot"},
            "resource-tolerations": {
                "nvidia.com/gpu": [{"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]
            },
        }
    )
    template = _template('echo "$SHARED $FLYTE_INTERNAL_TASK_NAME"')
    template.container.resources.requests.extend(_resources(cpu="500m", gpu="1"))
    template.container.resources.limits.extend(_resources(memory="8Gi"))
    template.extended_resources.gpu_accelerator.device = "nvidia-tesla-t4"
    ctx = await make_ctx(template)
    security = security_pb2.SecurityContext(run_as=security_pb2.Identity(k8s_service_account="trainer"))
    ctx = replace(
        ctx,
        interruptible=True,
        labels={"owner": "alice"},
        annotations={"note": "hi"},
        security_context=security,
        platform_resource_defaults=Resources(cpu="1", memory="1Gi"),
        platform_resource_limits=Resources(cpu="4", memory="4Gi", gpu="2"),
    )
    info = await drive(plugin, ctx)
    assert info.phase == Phase.SUCCESS, info
    pod = _stored(kube, ctx)
    primary = pod["spec"]["containers"][0]
    # Requests from the task, limit = request when unset, memory from the task's limit capped at the platform limit.
    assert primary["resources"] == {
        "requests": {"cpu": "500m", "memory": "4Gi", "nvidia.com/gpu": "1"},
        "limits": {"cpu": "500m", "memory": "4Gi", "nvidia.com/gpu": "1"},
    }
    assert pod["metadata"]["labels"]["team"] == "ml" and pod["metadata"]["labels"]["owner"] == "alice"
    assert pod["metadata"]["labels"]["execution-id"] == "exec1" and pod["metadata"]["labels"]["interruptible"] == "true"
    assert pod["metadata"]["annotations"]["cost-center"] == "42" and pod["metadata"]["annotations"]["note"] == "hi"
    assert pod["metadata"]["annotations"]["primary_container_name"] == primary["name"]
    assert pod["spec"]["serviceAccountName"] == "trainer" and pod["spec"]["restartPolicy"] == "Never"
    assert {"key": "spot", "operator": "Exists", "effect": "NoSchedule"} in pod["spec"]["tolerations"]
    assert {"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"} in pod["spec"]["tolerations"]
    assert pod["spec"]["nodeSelector"] == {"lifecycle": "spot", "k8s.amazonaws.com/accelerator": "nvidia-tesla-t4"}
    env = {e["name"]: e.get("value") for e in primary["env"]}
    assert (
        env["SHARED"] == "yes" and env["FLYTE_INTERNAL_EXECUTION_ID"] == "exec1" and env["FLYTE_ATTEMPT_NUMBER"] == "0"
    )
    log = (kube.workdir / "pods" / NAMESPACE / ctx.unique_id / "logs" / f"{primary['name']}.log").read_text()
    assert "yes shell" in log


async def test_platform_defaults_fill_unset_resources(
    kube: KubeDouble, make_plugin: Any, make_ctx: MakeCtx, drive: Drive
) -> None:
    ctx = replace(await make_ctx(_template("true")), platform_resource_defaults=Resources(cpu="250m", memory="300Mi"))
    assert (await drive(make_plugin(), ctx)).phase == Phase.SUCCESS
    resources = _stored(kube, ctx)["spec"]["containers"][0]["resources"]
    assert resources == {"requests": {"cpu": "250m", "memory": "300Mi"}, "limits": {"cpu": "250m", "memory": "300Mi"}}


async def test_pod_template_precedence(
    kube: KubeDouble, v1: client.CoreV1Api, make_plugin: Any, make_ctx: MakeCtx, drive: Drive
) -> None:
    def pod_template(name: str, namespace: str, labels: dict[str, str], spec: dict[str, Any]) -> None:
        body = {"metadata": {"name": name}, "template": {"metadata": {"labels": labels}, "spec": spec}}
        v1.create_namespaced_pod_template(namespace, body)

    noop = {"name": "noop", "image": "docker.io/rwgrim/docker-noop"}
    # The default template in propeller's namespace loses to the one in the pod's namespace.
    pod_template("flyte-default", "flyte", {"source": "flyte-ns"}, {"containers": [noop], "priorityClassName": "low"})
    pod_template(
        "flyte-default",
        NAMESPACE,
        {"source": "default-template", "keep": "default"},
        {
            "containers": [
                {
                    "name": "default",
                    "image": "x",
                    "terminationMessagePath": "/dev/default",
                    "env": [{"name": "FROM", "value": "default"}],
                },
                {"name": "primary", "image": "x", "workingDir": "/primary-dir"},
            ],
            "hostNetwork": False,
            "dnsPolicy": "Default",
        },
    )
    # The task's pod_template_name replaces the default template.
    pod_template(
        "gpu-template",
        "flyte",
        {"source": "named-template"},
        {
            "containers": [{"name": "default", "image": "x", "env": [{"name": "FROM", "value": "named"}]}],
            "dnsPolicy": "None",
            "dnsConfig": {"nameservers": ["1.1.1.1"]},
        },
    )
    plugin = make_plugin(
        **{
            "default-pod-template-name": "flyte-default",
            "default-labels": {"source": "plugin-config", "from-config": "yes"},
            "scheduler-name": "config-scheduler",
        }
    )

    ctx = await make_ctx(_template("true"), execution="defaulted")
    assert (await drive(plugin, ctx)).phase == Phase.SUCCESS
    pod = _stored(kube, ctx)
    assert pod["metadata"]["labels"]["source"] == "default-template"  # template beats plugin config
    assert pod["metadata"]["labels"]["from-config"] == "yes" and pod["metadata"]["labels"]["keep"] == "default"
    assert pod["spec"]["dnsPolicy"] == "Default" and pod["spec"]["schedulerName"] == "config-scheduler"
    assert "priorityClassName" not in pod["spec"]  # the propeller-namespace template was not used
    primary = pod["spec"]["containers"][0]
    assert [c["name"] for c in pod["spec"]["containers"]] == [primary["name"]]  # base containers are not added
    assert primary["terminationMessagePath"] == "/dev/default" and primary["workingDir"] == "/primary-dir"
    assert {e["name"]: e.get("value") for e in primary["env"]}["FROM"] == "default"

    # pod_template_name + compile-time pod_template: the compile-time template wins over the named one.
    compiled = _template("true", name="templated")
    compiled.metadata.pod_template_name = "gpu-template"
    spec = {
        "containers": [
            {
                "name": "primary",
                "image": "alpine:3.19",
                "command": ["sh", "-c", "true"],
                "env": [{"name": "TASK", "value": "1"}],
            },
            {"name": "sidecar", "image": "busybox", "command": ["sleep", "1000"]},
        ],
        "dnsPolicy": "ClusterFirst",
        "tolerations": [{"key": "task", "operator": "Exists"}],
    }
    compiled.k8s_pod.pod_spec.CopyFrom(json_format.ParseDict(spec, struct_pb2.Struct()))
    compiled.k8s_pod.primary_container_name = "primary"
    compiled.k8s_pod.metadata.labels["source"] = "task-pod-template"
    compiled.ClearField("container")
    ctx = await make_ctx(compiled, execution="templated")
    assert (await drive(plugin, ctx)).phase == Phase.SUCCESS
    pod = _stored(kube, ctx)
    assert pod["metadata"]["labels"]["source"] == "task-pod-template"
    assert pod["spec"]["dnsPolicy"] == "ClusterFirst" and pod["spec"]["dnsConfig"] == {"nameservers": ["1.1.1.1"]}
    assert pod["spec"]["tolerations"] == [{"key": "task", "operator": "Exists"}]
    containers = {c["name"]: c for c in pod["spec"]["containers"]}
    assert set(containers) == {"primary", "sidecar"}
    assert {e["name"]: e.get("value") for e in containers["primary"]["env"]}["FROM"] == "named"
    assert {e["name"]: e.get("value") for e in containers["primary"]["env"]}["TASK"] == "1"
    assert {e["name"]: e.get("value") for e in containers["sidecar"]["env"]}[
        "FROM"
    ] == "named"  # "default" applies to all
    assert pod["metadata"]["annotations"]["primary_container_name"] == "primary"

    missing = _template("true", name="missing")
    missing.metadata.pod_template_name = "does-not-exist"
    info = await drive(plugin, await make_ctx(missing, execution="missing"))
    assert info.phase == Phase.PERMANENT_FAILURE and "does-not-exist" in info.error.message  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("fault", "phase", "code", "kind"),
    [
        (OOM_KILLED, Phase.RETRYABLE_FAILURE, ("OOMKilled",), ErrorKind.USER),
        (EVICTED, Phase.RETRYABLE_FAILURE, ("Evicted",), ErrorKind.SYSTEM),
        # with no grace period, whichever pull error the kubelet reports first
        (IMAGE_PULL, Phase.RETRYABLE_FAILURE, ("ErrImagePull", "ImagePullBackOff"), ErrorKind.USER),
    ],
)
async def test_failures_map_to_flytes_phases(
    kube: KubeDouble,
    make_plugin: Any,
    make_ctx: MakeCtx,
    drive: Drive,
    fault: str,
    phase: Phase,
    code: str,
    kind: ErrorKind,
) -> None:
    kube.add_fault(fault, lambda pod: True)
    plugin = make_plugin(**{"image-pull-backoff-grace-period": "0s"})
    info = await drive(plugin, await make_ctx(_template("sleep 30")))
    assert info.error is not None
    assert (info.phase, info.error.kind) == (phase, kind) and info.error.code in code


async def test_exit_code_and_error_document(
    make_plugin: Any, make_ctx: MakeCtx, drive: Drive, blobs: BlobStore
) -> None:
    plugin = make_plugin()
    info = await drive(plugin, await make_ctx(_template("exit 3"), execution="exits"))
    assert info.phase == Phase.RETRYABLE_FAILURE and "exit code (3)" in info.error.message  # type: ignore[union-attr]
    from flyteidl.core import errors_pb2

    ctx = await make_ctx(_template("exit 1"), execution="documented")
    document = errors_pb2.ErrorDocument(
        error=errors_pb2.ContainerError(
            code="ValueError", message="bad input", kind=errors_pb2.ContainerError.NON_RECOVERABLE
        )
    )
    await blobs.write_proto(f"{ctx.output_prefix}/error.pb", document)
    info = await drive(plugin, ctx)
    assert info.phase == Phase.PERMANENT_FAILURE and info.error.code == "ValueError"  # type: ignore[union-attr]


async def test_abort_deletes_the_pod(kube: KubeDouble, make_plugin: Any, make_ctx: MakeCtx) -> None:
    import asyncio

    plugin = make_plugin()
    ctx = await make_ctx(_template("sleep 60"))
    for _ in range(200):
        if (await plugin.handle(ctx)).info.phase == Phase.RUNNING:
            break
        await asyncio.sleep(0.05)
    await plugin.abort(ctx, "user asked")
    await plugin.finalize(ctx)
    for _ in range(200):
        if kube.get("pods", NAMESPACE, ctx.unique_id) is None:
            break
        await asyncio.sleep(0.05)
    assert kube.get("pods", NAMESPACE, ctx.unique_id) is None
    await plugin.abort(ctx, "again")  # repeating is harmless


async def test_a_new_propeller_adopts_the_pod(
    kube: KubeDouble, make_plugin: Any, make_ctx: MakeCtx, drive: Drive
) -> None:
    first = make_plugin()
    ctx = await make_ctx(_template("sleep 1"))
    assert (await first.handle(ctx)).info.phase == Phase.QUEUED
    first.close()
    # A new instance, with no plugin state (the crash happened before the round was saved): AlreadyExists → adopt.
    second = make_plugin()
    assert (await drive(second, ctx)).phase == Phase.SUCCESS
    assert [name for _, name, _ in kube.created("pods")] == [ctx.unique_id]


async def test_primary_container_decides_with_sidecars(
    kube: KubeDouble, make_plugin: Any, make_ctx: MakeCtx, drive: Drive
) -> None:
    template = _template("", name="sidecar-task")
    spec = {
        "containers": [
            {"name": "main", "image": "a", "command": ["sh", "-c", "exit 0"]},
            {"name": "proxy", "image": "b"},
        ]
    }
    template.k8s_pod.pod_spec.CopyFrom(json_format.ParseDict(spec, struct_pb2.Struct()))
    template.k8s_pod.primary_container_name = "main"
    template.ClearField("container")
    ctx = await make_ctx(template)
    assert (await drive(make_plugin(), ctx)).phase == Phase.SUCCESS
    assert _stored(kube, ctx)["status"]["phase"] == "Running"  # the sidecar still runs: the primary decided


async def test_log_links_from_templates(make_plugin: Any, make_ctx: MakeCtx, drive: Drive) -> None:
    logs = [
        {
            "displayName": "Dashboard",
            "templateUris": [
                "https://k8s/#/log/{{ .namespace }}/{{ .podName }}/pod?c={{.containerName}}&t={{ .podUnixStartTime }}"
            ],
        },
        {"displayName": "Live", "templateUris": ["https://live/{{ .podName }}"], "hideOnceFinished": True},
    ]
    ctx = await make_ctx(_template("true"))
    info = await drive(make_plugin(logs=logs), ctx)
    assert [log.name for log in info.logs] == ["Dashboard"]
    uri = info.logs[0].uri
    assert uri.startswith(f"https://k8s/#/log/{NAMESPACE}/{ctx.unique_id}/pod?c={ctx.unique_id}&t=")
    assert uri.rsplit("=", 1)[1].isdigit()


async def test_secret_requests_become_webhook_annotations(
    kube: KubeDouble, make_plugin: Any, make_ctx: MakeCtx, drive: Drive
) -> None:
    template = _template("true")
    template.security_context.secrets.append(
        security_pb2.Secret(group="creds", key="token", mount_requirement=security_pb2.Secret.ENV_VAR)
    )
    ctx = await make_ctx(template)
    await drive(make_plugin(), ctx)
    pod = _stored(kube, ctx)
    assert pod["metadata"]["labels"]["inject-flyte-secrets"] == "true"
    encoded = pod["metadata"]["annotations"]["flyte.secrets/s0"]
    from google.protobuf import text_format

    decoded = text_format.Parse(
        base64.b32decode(encoded.upper() + "=" * (-len(encoded) % 8)).decode(), security_pb2.Secret()
    )
    assert decoded.group == "creds" and decoded.key == "token"


async def test_python_task_runs_in_a_pod(
    kube: KubeDouble,
    make_plugin: Any,
    make_ctx: MakeCtx,
    drive: Drive,
    flytekit_task: Any,
    flytekit_bin: Path,
    blobs: BlobStore,
    literals: Any,
) -> None:
    kube.base_env["PATH"] = f"{flytekit_bin}:{kube.base_env.get('PATH', '')}"
    ctx = await make_ctx(flytekit_task("add"), {"a": literals.integer(2), "b": literals.integer(40)})
    info = await drive(make_plugin(), ctx)
    assert info.phase == Phase.SUCCESS, info
    outputs = await blobs.read_proto(f"{ctx.output_prefix}/outputs.pb", literals_pb2.LiteralMap)
    assert outputs.literals["o0"].scalar.primitive.integer == 42
