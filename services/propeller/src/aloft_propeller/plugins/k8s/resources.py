"""Container resources as flytek8s' ApplyResourceOverrides sizes them.

Per resource (cpu, memory, ephemeral-storage, GPU): the request is the task's request, else its limit, else the
platform default (TASK_RESOURCE matchable attribute or ``task_resources.defaults``; cpu/memory fall back to
``plugins.k8s.default-cpus`` / ``default-memory``); the limit is the task's limit, else the request. Both are capped
by the platform limit (TASK_RESOURCE / ``task_resources.limits``) and the request never exceeds the limit. GPUs use
``gpu-resource-name`` with request = limit (extended resources cannot overcommit).
"""

from __future__ import annotations

from typing import Any

from flyteidl.core import tasks_pb2

from aloft_propeller.config import K8sPluginConfig
from aloft_propeller.plugins.base import Resources, TaskExecutionContext
from aloft_propeller.plugins.k8s.quantity import parse_quantity, smaller

_NAMES = {
    tasks_pb2.Resources.CPU: "cpu",
    tasks_pb2.Resources.MEMORY: "memory",
    tasks_pb2.Resources.GPU: "gpu",
    tasks_pb2.Resources.EPHEMERAL_STORAGE: "ephemeral-storage",
}
_PLATFORM_FIELDS = {"cpu": "cpu", "memory": "memory", "gpu": "gpu", "ephemeral-storage": "ephemeral_storage"}


def task_resources(template: tasks_pb2.TaskTemplate) -> tuple[dict[str, str], dict[str, str]]:
    resources = template.container.resources
    requests = {_NAMES[e.name]: e.value for e in resources.requests if e.name in _NAMES and e.value}
    limits = {_NAMES[e.name]: e.value for e in resources.limits if e.name in _NAMES and e.value}
    return requests, limits


def _platform(resources: Resources, name: str) -> str:
    return str(getattr(resources, _PLATFORM_FIELDS[name]) or "")


def size_container(
    requests: dict[str, str], limits: dict[str, str], ctx: TaskExecutionContext, settings: K8sPluginConfig
) -> dict[str, dict[str, str]]:
    """Requests and limits for the primary container, with k8s resource names."""
    fallback = {"cpu": settings.default_cpus, "memory": settings.default_memory}
    out_requests: dict[str, str] = {}
    out_limits: dict[str, str] = {}
    for name in ("cpu", "memory", "ephemeral-storage", "gpu"):
        request = requests.get(name) or limits.get(name) or ""
        if not request and name != "gpu":
            request = _platform(ctx.platform_resource_defaults, name) or fallback.get(name, "")
        if not request:
            continue
        limit = limits.get(name) or request
        cap = _platform(ctx.platform_resource_limits, name)
        if cap:
            request, limit = smaller(request, cap), smaller(limit, cap)
        request = smaller(request, limit)
        key = settings.gpu_resource_name if name == "gpu" else name
        if name == "gpu":
            request = limit  # extended resources: request must equal limit
        out_requests[key], out_limits[key] = request, limit
    return {"requests": out_requests, "limits": out_limits}


def cap_container(resources: dict[str, Any], ctx: TaskExecutionContext, settings: K8sPluginConfig) -> dict[str, Any]:
    """Other containers (sidecars, pod_template containers): keep what they ask, capped by the platform limits;
    a `gpu` key is renamed to the configured GPU resource."""
    out: dict[str, Any] = {}
    for kind in ("requests", "limits"):
        values = dict(resources.get(kind) or {})
        if "gpu" in values:
            values[settings.gpu_resource_name] = values.pop("gpu")
        for name, value in list(values.items()):
            platform_name = "gpu" if name == settings.gpu_resource_name else name
            cap = _platform(ctx.platform_resource_limits, platform_name) if platform_name in _PLATFORM_FIELDS else ""
            if cap:
                values[name] = smaller(str(value), cap)
        if values:
            out[kind] = values
    return out


def uses_resource(resources: dict[str, Any], name: str) -> bool:
    for kind in ("requests", "limits"):
        value = (resources.get(kind) or {}).get(name)
        if value is not None and parse_quantity(str(value)) > 0:
            return True
    return False
