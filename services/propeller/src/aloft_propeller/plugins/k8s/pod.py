"""The pod of one task attempt, built like flytek8s' BuildRawPod + ApplyFlytePodConfiguration.

Layers, lowest first: plugin config (`plugins.k8s`: default labels/annotations/tolerations/node selector/affinity,
scheduler, security contexts, host networking) < runtime PodTemplate (default or the task's `pod_template_name`)
< the execution's labels/annotations < the task's compile-time `pod_template` < what Flyte sets itself (name,
restart policy, the primary container's image/command/env/resources, secret requests, interruptible placement).
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from typing import Any

from flyteidl.core import literals_pb2, security_pb2, tasks_pb2
from google.protobuf import json_format, text_format

from aloft_propeller.config import K8sPluginConfig
from aloft_propeller.plugins.base import TaskExecutionContext
from aloft_propeller.plugins.k8s.merge import merge
from aloft_propeller.plugins.k8s.naming import dns_label, label_value
from aloft_propeller.plugins.k8s.resources import cap_container, size_container, task_resources, uses_resource
from aloft_propeller.plugins.k8s.templates import RuntimeTemplate
from aloft_propeller.plugins.local_process.command import local_path, per_retry_unique_key
from aloft_propeller.plugins.local_process.environment import flyte_env
from aloft_propeller.plugins.local_process.template import TemplateParameters, render_command

Obj = dict[str, Any]
PRIMARY_ANNOTATION = "primary_container_name"
FINALIZER = "flyte/flytek8s"
# The secret-injection contract with the pod webhook (Flyte's): label + one annotation per requested secret, the
# flyteidl Secret in protobuf text format, base32 (lowercase alphabet, no padding).
SECRETS_LABEL = "inject-flyte-secrets"
SECRET_ANNOTATION_PREFIX = "flyte.secrets/s"


@dataclass(frozen=True)
class PodInputs:
    """What a pod needs beyond the attempt's context (looked up by the plugin)."""

    namespace: str
    runtime_template: RuntimeTemplate
    inputs: literals_pb2.LiteralMap
    extra_env: dict[str, str]  # storage credentials/endpoint for flytekit


def pod_name(ctx: TaskExecutionContext) -> str:
    """Deterministic per attempt (execution, node path, retry): a replayed create finds the same pod."""
    return dns_label(ctx.unique_id) if len(ctx.unique_id) > 253 else ctx.unique_id


def primary_container_name(ctx: TaskExecutionContext) -> str:
    template = ctx.template
    if template.HasField("k8s_pod"):
        return template.k8s_pod.primary_container_name or template.config.get("primary_container_name", "primary")
    return dns_label(ctx.unique_id)


def secret_annotations(secrets: list[security_pb2.Secret]) -> dict[str, str]:
    out = {}
    for index, secret in enumerate(secrets):
        text = text_format.MessageToString(secret).encode()
        out[f"{SECRET_ANNOTATION_PREFIX}{index}"] = base64.b32encode(text).decode().lower().rstrip("=")
    return out


def flyte_labels(ctx: TaskExecutionContext) -> dict[str, str]:
    execution = ctx.task_execution_id.node_execution_id.execution_id
    return {
        "execution-id": label_value(execution.name),
        "project": label_value(execution.project),
        "domain": label_value(execution.domain),
        "workflow-name": label_value(ctx.workflow_name),
        "task-name": label_value(ctx.task_execution_id.task_id.name),
        "node-id": label_value(ctx.task_execution_id.node_execution_id.node_id),
        "attempt": str(ctx.task_execution_id.retry_attempt),
        "interruptible": "true" if ctx.interruptible else "false",
    }


def _config_layer(settings: K8sPluginConfig) -> Obj:
    spec: Obj = {"restartPolicy": "Never"}
    if settings.default_tolerations:
        spec["tolerations"] = list(settings.default_tolerations)
    if settings.default_node_selector:
        spec["nodeSelector"] = dict(settings.default_node_selector)
    if settings.default_affinity:
        spec["affinity"] = dict(settings.default_affinity)
    if settings.scheduler_name:
        spec["schedulerName"] = settings.scheduler_name
    if settings.default_pod_security_context:
        spec["securityContext"] = dict(settings.default_pod_security_context)
    if settings.enable_host_networking_pod is not None:
        spec["hostNetwork"] = settings.enable_host_networking_pod
    metadata = {"labels": dict(settings.default_labels), "annotations": dict(settings.default_annotations)}
    return {"metadata": metadata, "spec": spec}


def _task_layer(ctx: TaskExecutionContext, primary: str) -> Obj:
    """The task's own pod: its compile-time pod_template, or one primary container from the container spec."""
    template = ctx.template
    if template.HasField("k8s_pod"):
        spec = json_format.MessageToDict(template.k8s_pod.pod_spec)
        metadata = {
            "labels": dict(template.k8s_pod.metadata.labels),
            "annotations": dict(template.k8s_pod.metadata.annotations),
        }
        return {"metadata": metadata, "spec": spec}
    container = template.container
    requests, limits = task_resources(template)
    primary_container: Obj = {
        "name": primary,
        "image": container.image,
        "command": list(container.command),
        "args": list(container.args),
        "resources": {"requests": requests, "limits": limits},
        "env": [{"name": pair.key, "value": pair.value} for pair in container.env],
    }
    return {"metadata": {}, "spec": {"containers": [primary_container]}}


def _env_list(values: dict[str, str]) -> list[Obj]:
    return [{"name": k, "value": v} for k, v in values.items()]


def _params(ctx: TaskExecutionContext, namespace: str) -> TemplateParameters:
    inputs = local_path(ctx.inputs_uri)
    return TemplateParameters(
        inputs_uri=inputs,
        input_prefix=inputs.rsplit("/", 1)[0],
        output_prefix=local_path(ctx.output_prefix),
        raw_output_prefix=local_path(ctx.raw_output_prefix),
        checkpoint_prefix=local_path(ctx.checkpoint_prefix),
        prev_checkpoint_prefix=local_path(ctx.prev_checkpoint_prefix),
        per_retry_unique_key=per_retry_unique_key(ctx.unique_id),
        namespace=namespace,
    )


def _build_container(
    container: Obj,
    *,
    primary: bool,
    init: bool,
    ctx: TaskExecutionContext,
    settings: K8sPluginConfig,
    pod_inputs: PodInputs,
) -> Obj:
    built: Obj = merge(pod_inputs.runtime_template.base_for(container, primary=primary, init=init), container)
    for key in ("command", "args"):
        if not built.get(key):
            built.pop(key, None)
    params = _params(ctx, pod_inputs.namespace)
    for key in ("command", "args"):
        if built.get(key):
            built[key] = render_command([str(a) for a in built[key]], params, pod_inputs.inputs)
    defaults = dict(settings.default_env_vars)
    defaults.update({k: os.environ.get(v, "") for k, v in settings.default_env_vars_from_env.items()})
    env = _env_list(defaults)
    if primary:
        env = merge(env, _env_list({**pod_inputs.extra_env, **flyte_env(ctx)}), "env")
    built["env"] = merge(env, built.get("env") or [], "env")
    resources = built.get("resources") or {}
    if primary and not init:
        requests = {k: str(v) for k, v in (resources.get("requests") or {}).items()}
        limits = {k: str(v) for k, v in (resources.get("limits") or {}).items()}
        built["resources"] = size_container(requests, limits, ctx, settings)
    elif resources:
        built["resources"] = cap_container(resources, ctx, settings)
    if settings.default_security_context and "securityContext" not in built:
        built["securityContext"] = dict(settings.default_security_context)
    built.setdefault("terminationMessagePolicy", "FallbackToLogsOnError")
    return built


def _interruptible(spec: Obj, ctx: TaskExecutionContext, settings: K8sPluginConfig) -> None:
    requirement = (
        settings.interruptible_node_selector_requirement
        if ctx.interruptible
        else settings.non_interruptible_node_selector_requirement
    )
    if ctx.interruptible:
        spec["tolerations"] = merge(spec.get("tolerations") or [], list(settings.interruptible_tolerations))
        spec["nodeSelector"] = {**(spec.get("nodeSelector") or {}), **settings.interruptible_node_selector}
    if requirement:
        affinity = spec.setdefault("affinity", {})
        required = affinity.setdefault("nodeAffinity", {}).setdefault(
            "requiredDuringSchedulingIgnoredDuringExecution", {}
        )
        terms = required.setdefault("nodeSelectorTerms", [{}])
        for term in terms:
            term.setdefault("matchExpressions", []).append(dict(requirement))
    if not spec.get("nodeSelector"):
        spec.pop("nodeSelector", None)
    if not spec.get("tolerations"):
        spec.pop("tolerations", None)


def _resource_placement(spec: Obj, ctx: TaskExecutionContext, settings: K8sPluginConfig) -> None:
    """Tolerations for requested resources (GPUs); accelerator node selectors from extended resources."""
    containers = spec.get("containers", []) + spec.get("initContainers", [])
    for resource, tolerations in settings.resource_tolerations.items():
        if any(uses_resource(c.get("resources") or {}, resource) for c in containers):
            spec["tolerations"] = merge(spec.get("tolerations") or [], list(tolerations))
    accelerator = ctx.template.extended_resources.gpu_accelerator
    if accelerator.device:
        selector = spec.setdefault("nodeSelector", {})
        selector[settings.gpu_device_node_label] = accelerator.device
        if accelerator.partition_size:
            selector[settings.gpu_partition_size_node_label] = accelerator.partition_size


def _service_account(ctx: TaskExecutionContext, settings: K8sPluginConfig) -> str:
    for context in (ctx.security_context, ctx.template.security_context):
        if context is not None and context.run_as.k8s_service_account:
            return context.run_as.k8s_service_account
    return settings.default_service_account


def build_pod(ctx: TaskExecutionContext, settings: K8sPluginConfig, pod_inputs: PodInputs) -> Obj:
    primary = primary_container_name(ctx)
    runtime = pod_inputs.runtime_template
    layers = [_config_layer(settings), {"metadata": runtime.metadata, "spec": runtime.spec}]
    layers.append({"metadata": {"labels": dict(ctx.labels), "annotations": dict(ctx.annotations)}, "spec": {}})
    task = _task_layer(ctx, primary)
    task_spec = task["spec"]
    layers.append(
        {
            "metadata": task["metadata"],
            "spec": {k: v for k, v in task_spec.items() if k not in ("containers", "initContainers")},
        }
    )
    pod: Obj = {"metadata": {}, "spec": {}}
    for layer in layers:
        pod = merge(pod, layer)
    spec = pod["spec"]
    spec["containers"] = [
        _build_container(
            c, primary=c.get("name") == primary, init=False, ctx=ctx, settings=settings, pod_inputs=pod_inputs
        )
        for c in task_spec.get("containers") or []
    ]
    if task_spec.get("initContainers"):
        spec["initContainers"] = [
            _build_container(
                c, primary=c.get("name") == primary, init=True, ctx=ctx, settings=settings, pod_inputs=pod_inputs
            )
            for c in task_spec["initContainers"]
        ]
    if not any(c.get("name") == primary for c in spec["containers"]):
        raise ValueError(f"the task's pod has no container named {primary!r} (its primary container)")
    spec["restartPolicy"] = "Never"
    spec["serviceAccountName"] = _service_account(ctx, settings)
    _interruptible(spec, ctx, settings)
    _resource_placement(spec, ctx, settings)
    metadata = pod["metadata"]
    metadata["name"] = pod_name(ctx)
    metadata["namespace"] = pod_inputs.namespace
    labels = {**(metadata.get("labels") or {}), **flyte_labels(ctx)}
    annotations = {**(metadata.get("annotations") or {}), PRIMARY_ANNOTATION: primary}
    secrets = list(ctx.template.security_context.secrets)
    if secrets:
        labels[SECRETS_LABEL] = "true"
        annotations.update(secret_annotations(secrets))
    metadata["labels"], metadata["annotations"] = labels, annotations
    if settings.inject_finalizer:
        metadata["finalizers"] = [FINALIZER]
    return {"apiVersion": "v1", "kind": "Pod", **pod}


def task_pod_template_name(template: tasks_pb2.TaskTemplate) -> str:
    return template.metadata.pod_template_name
