"""Server-side validation: built-in kinds against the Kubernetes JSON schemas shipped by `kubernetes-validate`,
custom resources against their CRD's openAPIV3Schema.

Validators are built once per kind (kubernetes_validate.validate reloads the multi-megabyte definitions on every
call); errors become a 422 `Invalid` Status with one cause per violation, like the API server's field errors.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import jsonschema
import kubernetes_validate
from kubernetes_validate.utils import schema_contents
from referencing import Registry, Resource

from .errors import invalid
from .resources import ResourceType

Obj = dict[str, Any]
KUBERNETES_VERSION = kubernetes_validate.latest_version()


def _schema_dir(strict: bool) -> str:
    return f"v{KUBERNETES_VERSION}-local" + ("-strict" if strict else "")


@cache
def _definitions(strict: bool) -> Registry:
    defs = schema_contents(f"kubernetes-json-schema/{_schema_dir(strict)}/_definitions.json", KUBERNETES_VERSION)
    return Resource.from_contents(defs) @ Registry()  # type: ignore[no-any-return]


@cache
def _builtin_validator(api_version: str, kind: str, strict: bool) -> jsonschema.protocols.Validator | None:
    # rbac.authorization.k8s.io/v1 → rbac-v1, v1 → v1 (kubernetes-validate's file naming)
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = schema_contents(
            f"kubernetes-json-schema/{_schema_dir(strict)}/{kind.lower()}-{api}.json", KUBERNETES_VERSION
        )
    except FileNotFoundError:
        return None
    registry = Resource.from_contents(schema) @ _definitions(strict)
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def _crd_validator(schema: Obj) -> jsonschema.protocols.Validator:
    return jsonschema.validators.Draft7Validator(_crd_schema(schema))


def _crd_schema(schema: Any) -> Any:
    """openAPIV3Schema → JSON schema: `nullable` widens the type, int-or-string accepts both."""
    if isinstance(schema, list):
        return [_crd_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _crd_schema(value) for key, value in schema.items()}
    if out.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if out.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def _field_path(error: jsonschema.ValidationError) -> str:
    parts = []
    for part in error.absolute_path:
        parts.append(f"[{part}]" if isinstance(part, int) else f".{part}")
    return "".join(parts).lstrip(".") or "<root>"


def validate_object(rtype: ResourceType, obj: Obj, *, strict_fields: bool) -> None:
    """Raise a 422 ApiError when `obj` violates its schema; unknown kinds with no schema pass (as schemaless CRDs)."""
    if rtype.builtin:
        validator = _builtin_validator(rtype.api_version, rtype.kind, strict_fields)
    elif rtype.schema is not None:
        validator = _crd_validator(rtype.schema)
    else:
        validator = None
    name = obj.get("metadata", {}).get("name", "")
    causes = []
    if validator is not None:
        for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path)):
            reason = "FieldValueNotSupported" if error.validator == "additionalProperties" else "FieldValueInvalid"
            causes.append({"reason": reason, "message": error.message, "field": _field_path(error)})
    causes.extend(_metadata_errors(obj))
    if causes:
        raise invalid(rtype.kind, name, causes, rtype.group)


_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _metadata_errors(obj: Obj) -> list[dict[str, str]]:
    """Name and label rules the schemas cannot express (the API server's ValidateObjectMeta)."""
    meta = obj.get("metadata") or {}
    name = meta.get("name", "")
    errors = []
    if not name:
        errors.append(
            {"reason": "FieldValueRequired", "message": "name or generateName is required", "field": "metadata.name"}
        )
    elif len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        errors.append(
            {
                "reason": "FieldValueInvalid",
                "message": f"Invalid value: {name!r}: a lowercase RFC 1123 subdomain must consist of lower case "
                "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
                "field": "metadata.name",
            }
        )
    for key, value in (meta.get("labels") or {}).items():
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            errors.append(
                {
                    "reason": "FieldValueInvalid",
                    "message": f"Invalid value: {value!r}",
                    "field": f"metadata.labels.{key}",
                }
            )
    if obj.get("kind") == "Namespace" and name and not _DNS_LABEL.match(name):
        errors.append(
            {
                "reason": "FieldValueInvalid",
                "message": f"Invalid value: {name!r}: a DNS-1123 label",
                "field": "metadata.name",
            }
        )
    if obj.get("kind") == "Pod" and name and len(name) > 253:
        errors.append(
            {"reason": "FieldValueInvalid", "message": "must be no more than 253 characters", "field": "metadata.name"}
        )
    return errors
