"""PATCH bodies: JSON patch, JSON merge patch, strategic merge patch and server-side apply (as a merge)."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonpatch
import yaml

from .errors import ApiError, bad_request

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)
# Lists merged by key in strategic merge patches (the Kubernetes `patchMergeKey`s our objects use).
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
    "tolerations": "key",
    "imagePullSecrets": "name",
    "conditions": "type",
    "ownerReferences": "uid",
    "webhooks": "name",
}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge(target: Any, patch: Any, field: str = "") -> Any:
    """Merge patch where lists with a known merge key merge element-wise, and `$patch: delete|replace` work."""
    if isinstance(patch, dict):
        if patch.get("$patch") == "replace":
            return {k: v for k, v in patch.items() if k != "$patch"}
        result = copy.deepcopy(target) if isinstance(target, dict) else {}
        for key, value in patch.items():
            if key.startswith("$"):
                continue
            if value is None:
                result.pop(key, None)
            else:
                result[key] = strategic_merge(result.get(key), value, key)
        return result
    if isinstance(patch, list) and field in MERGE_KEYS and isinstance(target, list):
        key = MERGE_KEYS[field]
        merged: list[Any] = copy.deepcopy(target)
        for item in patch:
            if not isinstance(item, dict) or key not in item:
                return copy.deepcopy(patch)
            index = next(
                (i for i, cur in enumerate(merged) if isinstance(cur, dict) and cur.get(key) == item[key]), None
            )
            if item.get("$patch") == "delete":
                if index is not None:
                    merged.pop(index)
            elif index is None:
                merged.append({k: v for k, v in item.items() if k != "$patch"})
            else:
                merged[index] = strategic_merge(merged[index], item, field)
        return merged
    return copy.deepcopy(patch)


def parse_body(raw: bytes, content_type: str) -> Any:
    try:
        if content_type.startswith(APPLY_PATCH) or "yaml" in content_type:
            return yaml.safe_load(raw)
        return json.loads(raw or b"null")
    except (ValueError, yaml.YAMLError) as exc:
        raise bad_request(f"error decoding request body: {exc}") from exc


def apply_patch(current: dict[str, Any], body: Any, content_type: str) -> dict[str, Any]:
    kind = content_type.split(";")[0].strip()
    try:
        if kind == JSON_PATCH:
            if not isinstance(body, list):
                raise bad_request("json patch must be a list of operations")
            return jsonpatch.apply_patch(copy.deepcopy(current), body)  # type: ignore[no-any-return]
        if not isinstance(body, dict):
            raise bad_request("patch body must be an object")
        if kind == MERGE_PATCH:
            return merge_patch(current, body)  # type: ignore[no-any-return]
        if kind in (STRATEGIC_MERGE_PATCH, APPLY_PATCH):
            return strategic_merge(current, body)  # type: ignore[no-any-return]
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise ApiError(422, "Invalid", f"the JSON patch could not be applied: {exc}") from exc
    raise ApiError(415, "UnsupportedMediaType", f"the media type {content_type!r} is not supported for PATCH")
