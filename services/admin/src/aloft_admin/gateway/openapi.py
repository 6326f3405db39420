"""An OpenAPI 3.0 document generated from the same bindings the gateway routes (served at /api/v1/openapi).

Schemas are derived from the message descriptors with the gateway's JSON conventions: proto field names,
64-bit integers as strings, enums by name, well-known types in their JSON forms.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from aloft_admin.gateway.binding import resolve_path
from aloft_admin.gateway.descriptors import TEMPLATE_VARIABLE, Binding

_SCALARS: dict[int, dict[str, Any]] = {
    FieldDescriptor.TYPE_DOUBLE: {"type": "number", "format": "double"},
    FieldDescriptor.TYPE_FLOAT: {"type": "number", "format": "float"},
    FieldDescriptor.TYPE_INT64: {"type": "string", "format": "int64"},
    FieldDescriptor.TYPE_UINT64: {"type": "string", "format": "uint64"},
    FieldDescriptor.TYPE_SINT64: {"type": "string", "format": "int64"},
    FieldDescriptor.TYPE_FIXED64: {"type": "string", "format": "uint64"},
    FieldDescriptor.TYPE_SFIXED64: {"type": "string", "format": "int64"},
    FieldDescriptor.TYPE_INT32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_SINT32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_UINT32: {"type": "integer", "format": "int64"},
    FieldDescriptor.TYPE_FIXED32: {"type": "integer", "format": "int64"},
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.TYPE_STRING: {"type": "string"},
    FieldDescriptor.TYPE_BYTES: {"type": "string", "format": "byte"},
}

_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string"},
    "google.protobuf.FieldMask": {"type": "string"},
    "google.protobuf.Struct": {"type": "object", "additionalProperties": {}},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.Any": {
        "type": "object",
        "properties": {"@type": {"type": "string"}},
        "additionalProperties": {},
    },
    "google.protobuf.DoubleValue": {"type": "number", "format": "double"},
    "google.protobuf.FloatValue": {"type": "number", "format": "float"},
    "google.protobuf.Int64Value": {"type": "string", "format": "int64"},
    "google.protobuf.UInt64Value": {"type": "string", "format": "uint64"},
    "google.protobuf.Int32Value": {"type": "integer", "format": "int32"},
    "google.protobuf.UInt32Value": {"type": "integer", "format": "int64"},
    "google.protobuf.BoolValue": {"type": "boolean"},
    "google.protobuf.StringValue": {"type": "string"},
    "google.protobuf.BytesValue": {"type": "string", "format": "byte"},
}

ERROR_SCHEMA = "aloft.gateway.Status"


class _Schemas:
    """Collects component schemas for every message reachable from the bindings."""

    def __init__(self) -> None:
        self.components: dict[str, dict[str, Any]] = {}

    def ref(self, descriptor: Descriptor) -> dict[str, Any]:
        if descriptor.full_name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[descriptor.full_name])
        if descriptor.full_name not in self.components:
            self.components[descriptor.full_name] = {}  # placeholder: breaks recursion
            self.components[descriptor.full_name] = self._message(descriptor)
        return {"$ref": f"#/components/schemas/{descriptor.full_name}"}

    def enum(self, descriptor: EnumDescriptor) -> dict[str, Any]:
        return {"type": "string", "enum": [value.name for value in descriptor.values]}

    def field(self, field: FieldDescriptor) -> dict[str, Any]:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            return {"type": "object", "additionalProperties": self.single(value_field)}
        schema = self.single(field)
        if field.is_repeated:
            return {"type": "array", "items": schema}
        return schema

    def single(self, field: Any) -> dict[str, Any]:
        if field.type == FieldDescriptor.TYPE_MESSAGE or field.type == FieldDescriptor.TYPE_GROUP:
            return self.ref(field.message_type)
        if field.type == FieldDescriptor.TYPE_ENUM:
            return self.enum(field.enum_type)
        return dict(_SCALARS[field.type])

    def _message(self, descriptor: Descriptor) -> dict[str, Any]:
        properties = {field.name: self.field(field) for field in descriptor.fields}
        return {"type": "object", "properties": properties}


def _query_parameters(schemas: _Schemas, descriptor: Descriptor, prefix: str, depth: int) -> list[dict[str, Any]]:
    """Leaf fields reachable as dotted query keys (messages expanded a few levels, as grpc-gateway's generator)."""
    out: list[dict[str, Any]] = []
    for field in descriptor.fields:
        name = f"{prefix}{field.name}"
        message = field.message_type
        if message is not None and message.full_name not in _WELL_KNOWN:
            if depth > 0 and not field.is_repeated and not message.GetOptions().map_entry:
                out.extend(_query_parameters(schemas, message, name + ".", depth - 1))
            continue
        schema = schemas.field(field)
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": False, "schema": schema}
        if field.is_repeated:
            parameter.update(style="form", explode=True)
        out.append(parameter)
    return out


def _operation(schemas: _Schemas, binding: Binding, operation_ids: set[str]) -> dict[str, Any]:
    method = binding.method
    input_type = method.input_type
    parameters: list[dict[str, Any]] = []
    bound = [p.field_path for p in binding.params]
    for param in binding.params:
        chain = resolve_path(input_type, param.field_path) or []
        schema = schemas.single(chain[-1]) if chain else {"type": "string"}
        parameters.append(
            {
                "name": path_parameter_name(param.field_path),
                "in": "path",
                "required": True,
                "description": f"Request field `{param.field_path}`.",
                "schema": schema,
            }
        )
    if binding.body != "*":
        for query in _query_parameters(schemas, input_type, "", 3):
            name = query["name"]
            covered = any(name == b or name.startswith(b + ".") for b in [*bound, binding.body] if b)
            if not covered:
                parameters.append(query)
    operation_id = f"{binding.service.name}_{method.name}"
    suffix = 2
    while operation_id in operation_ids:
        operation_id = f"{binding.service.name}_{method.name}{suffix}"
        suffix += 1
    operation_ids.add(operation_id)
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "tags": [binding.service.name],
        "summary": f"{binding.service.full_name}.{method.name}",
        "parameters": parameters,
        "responses": {
            "200": {
                "description": "A successful response.",
                "content": {"application/json": {"schema": schemas.ref(method.output_type)}},
            },
            "default": {
                "description": "An error (grpc-gateway status body).",
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}}},
            },
        },
    }
    if binding.body:
        body_schema = (
            schemas.ref(input_type) if binding.body == "*" else schemas.field(input_type.fields_by_name[binding.body])
        )
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body_schema}}}
    return operation


def path_parameter_name(field_path: str) -> str:
    """``id.project`` → ``id_project``: tools expand path templates as format strings, where a dot means an
    attribute (schemathesis and most client generators reject dotted names); the description keeps the field."""
    return field_path.replace(".", "_")


def openapi_path(binding: Binding) -> str:
    """The binding's template with OpenAPI parameter names (``{name=**}`` wildcards become plain parameters)."""
    return TEMPLATE_VARIABLE.sub(lambda match: "{" + path_parameter_name(match.group(1)) + "}", binding.template)


def build_openapi(bindings: list[Binding], version: str) -> dict[str, Any]:
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    operation_ids: set[str] = set()
    for binding in bindings:
        paths.setdefault(openapi_path(binding), {})[binding.verb.lower()] = _operation(schemas, binding, operation_ids)
    schemas.components[ERROR_SCHEMA] = {
        "type": "object",
        "properties": {
            "code": {"type": "integer", "format": "int32"},
            "message": {"type": "string"},
            "details": {"type": "array", "items": dict(_WELL_KNOWN["google.protobuf.Any"])},
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Aloft admin API",
            "description": "flyteidl AdminService, DataProxyService, SignalService, AuthMetadataService and "
            "IdentityService over REST (grpc-gateway mapping).",
            "version": version,
        },
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.components.items()))},
    }
