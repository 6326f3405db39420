"""Merging pod specs the way Flyte layers PodTemplates: maps override, lists append, and lists of named things
(containers, volumes, env, ports, ...) merge element-wise by their key (a later element with the same key
overrides fields of the earlier one)."""

from __future__ import annotations

import copy
from typing import Any

MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
}


def merge(base: Any, overlay: Any, field: str = "") -> Any:
    if isinstance(base, dict) and isinstance(overlay, dict):
        out = copy.deepcopy(base)
        for key, value in overlay.items():
            out[key] = merge(out[key], value, key) if key in out and value is not None else copy.deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(overlay, list):
        key = MERGE_KEYS.get(field)
        if key is None:
            return copy.deepcopy(base) + [v for v in copy.deepcopy(overlay) if v not in base]
        out_list = copy.deepcopy(base)
        for item in overlay:
            index = next(
                (i for i, cur in enumerate(out_list) if isinstance(cur, dict) and cur.get(key) == item.get(key)), None
            )
            if index is None:
                out_list.append(copy.deepcopy(item))
            else:
                out_list[index] = merge(out_list[index], item, field)
        return out_list
    return copy.deepcopy(overlay)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == 0 or value is False or value == [] or value == {}


def _overlay(base: Any, overlay: Any) -> Any:
    """mergo.Merge(WithOverride, WithAppendSlice): objects merge field by field, non-empty overlay values win, lists
    are appended."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        out = copy.deepcopy(base)
        for key, value in overlay.items():
            if key in out and not _empty(out[key]):
                out[key] = _overlay(out[key], value)
            elif not _empty(value):
                out[key] = copy.deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(overlay, list):
        return copy.deepcopy(base) + copy.deepcopy(overlay)
    return copy.deepcopy(base) if _empty(overlay) else copy.deepcopy(overlay)


def overlay_pod_spec(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Flyte's MergeOverlayPodSpecOntoBase (a Ray group's ``k8s_pod`` onto the task's pod spec): the spec merged as
    mergo does, then each of the base's (init) containers merged with the overlay's container of the same name —
    overlay containers named after no base container are dropped."""
    merged: dict[str, Any] = _overlay(
        base, {k: v for k, v in overlay.items() if k not in ("containers", "initContainers")}
    )
    for field in ("containers", "initContainers"):
        if field not in base:
            continue
        containers = []
        for container in base[field]:
            for extra in overlay.get(field) or []:
                if extra.get("name") == container.get("name"):
                    container = _overlay(container, extra)
            containers.append(copy.deepcopy(container))
        merged[field] = containers
    return merged
