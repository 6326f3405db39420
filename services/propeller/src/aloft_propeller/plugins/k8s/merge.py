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
