"""Task template checks (Flyte's task_compiler.go): id, container command/image/resources, pod container names."""

from __future__ import annotations

import re
from typing import Any

from flyteidl.core import tasks_pb2
from google.protobuf import json_format

from . import errors as e

# Kubernetes resource.Quantity: a signed decimal with an optional binary-SI, decimal-SI or exponent suffix.
_QUANTITY = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_ROOT = "root"


def validate_task(task: Any, errs: e.ErrorCollector) -> None:
    """Collect what Flyte's CompileTask rejects, plus interface variables without a type. Never mutates `task`."""
    if not task.HasField("id") or not task.id.name:
        errs.collect(e.value_required(_ROOT, "Id"))
    for side in ("inputs", "outputs"):
        for name, variable in getattr(task.interface, side).variables.items():
            if not variable.HasField("type"):
                errs.collect(e.value_required(task.id.name or _ROOT, f"{name}.type"))
    target = task.WhichOneof("target")
    if target == "container":
        _validate_container(task, errs)
    elif target == "k8s_pod":
        _validate_pod(task, errs)


def _validate_container(task: Any, errs: e.ErrorCollector) -> None:
    container = task.container
    has_io = bool(task.interface.inputs.variables) or bool(task.interface.outputs.variables)
    if has_io and not container.command and not container.args:
        errs.collect(e.value_required("container", "command"))
    if not container.image:
        errs.collect(e.value_required("container", "image"))
    for entry in [*container.resources.requests, *container.resources.limits]:
        if not _QUANTITY.match(entry.value):
            name = tasks_pb2.Resources.ResourceName.Name(entry.name)
            errs.collect(e.unrecognized_value(f"resources.{name}", entry.value, entry.value))


def _validate_pod(task: Any, errs: e.ErrorCollector) -> None:
    if not task.k8s_pod.HasField("pod_spec"):
        errs.collect(e.value_required(_ROOT, "k8s pod"))
        return
    spec = json_format.MessageToDict(task.k8s_pod.pod_spec)
    containers = spec.get("containers", [])
    if not isinstance(containers, list) or not all(isinstance(c, dict) for c in containers):
        errs.collect(e.invalid_value(_ROOT, "k8s pod spec"))
        return
    for container in containers:
        name = container.get("name", "")
        if not isinstance(name, str) or len(name) > 63 or not _DNS1123_LABEL.match(name):
            errs.collect(e.invalid_value(_ROOT, "k8s pod spec container name"))
