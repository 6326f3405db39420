"""PodTemplates (Flyte's precedence, lowest first): plugin config < `default-pod-template-name` (looked up in the
pod's namespace, then propeller's) < the task's `pod_template_name` (same lookup; replaces the default) < the
task's compile-time `pod_template`. From a runtime PodTemplate, pod-level fields, labels and annotations apply; its
containers named `default` / `primary` (`default-init` / `primary-init`) are base configurations for every (every
primary) container Flyte builds; other containers in it are dropped."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from aloft_propeller.plugins.k8s.merge import merge

Obj = dict[str, Any]
BASE_CONTAINERS = ("default", "primary")
BASE_INIT_CONTAINERS = ("default-init", "primary-init")


class PodTemplateNotFound(LookupError):
    pass


@dataclass
class RuntimeTemplate:
    """A PodTemplate split into what Flyte uses: the pod part and the container bases."""

    metadata: Obj = field(default_factory=dict)
    spec: Obj = field(default_factory=dict)
    containers: dict[str, Obj] = field(default_factory=dict)  # default / primary / default-init / primary-init

    @classmethod
    def from_object(cls, pod_template: Obj) -> RuntimeTemplate:
        template = copy.deepcopy(pod_template.get("template") or {})
        spec = template.get("spec") or {}
        bases: dict[str, Obj] = {}
        for container in spec.pop("containers", None) or []:
            if container.get("name") in BASE_CONTAINERS:
                bases[container["name"]] = container
        for container in spec.pop("initContainers", None) or []:
            if container.get("name") in BASE_INIT_CONTAINERS:
                bases[container["name"]] = container
        metadata = template.get("metadata") or {}
        return cls({k: v for k, v in metadata.items() if k in ("labels", "annotations")}, spec, bases)

    def base_for(self, container: Obj, *, primary: bool, init: bool) -> Obj:
        """The container configuration a built container starts from (image, name and command are Flyte's)."""
        names = BASE_INIT_CONTAINERS if init else BASE_CONTAINERS
        base: Obj = {}
        for name in names[:2] if primary else names[:1]:
            if name in self.containers:
                template = {k: v for k, v in self.containers[name].items() if k not in ("name", "image")}
                base = merge(base, template)
        return base
