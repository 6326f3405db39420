"""Build a request message from an HTTP request the way grpc-gateway does.

Order (as grpc-gateway): the body first (``*`` = the whole message, a field name = that field), then path
parameters (they win over the body), then query parameters for every field neither of those covers. Query keys
are dotted field paths (proto or JSON names); repeated fields take repeated keys; enums take names or numbers;
well-known types take their JSON string forms (RFC 3339 timestamps, ``10s`` durations). Unknown query keys are
ignored, as grpc-gateway does; unknown body fields are rejected (flyteadmin does not discard them). Bodies are
protobuf JSON, or binary protobuf with ``Content-Type: application/octet-stream`` (flyteadmin accepts both).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from aloft_service.errors import InvalidArgument

M = TypeVar("M", bound=Message)

_WRAPPERS = {
    "google.protobuf.DoubleValue",
    "google.protobuf.FloatValue",
    "google.protobuf.Int64Value",
    "google.protobuf.UInt64Value",
    "google.protobuf.Int32Value",
    "google.protobuf.UInt32Value",
    "google.protobuf.BoolValue",
    "google.protobuf.StringValue",
    "google.protobuf.BytesValue",
}
_STRING_FORM = {"google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask"}
_INTS = {
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED32,
    FieldDescriptor.TYPE_FIXED64,
    FieldDescriptor.TYPE_SFIXED32,
    FieldDescriptor.TYPE_SFIXED64,
}


def find_field(descriptor: Any, name: str) -> FieldDescriptor | None:
    field = descriptor.fields_by_name.get(name)
    if field is not None:
        return field
    for candidate in descriptor.fields:
        if candidate.json_name == name:
            return candidate
    return None


def resolve_path(descriptor: Any, dotted: str) -> list[FieldDescriptor] | None:
    """The chain of fields a dotted path names, or None when some segment is not a field."""
    chain: list[FieldDescriptor] = []
    current: Any = descriptor
    for part in dotted.split("."):
        if current is None:
            return None
        field = find_field(current, part)
        if field is None:
            return None
        chain.append(field)
        current = field.message_type
    return chain


def _scalar(field: Any, raw: str, name: str) -> Any:
    """A JSON-ready value for one text value of a leaf field (validated: InvalidArgument names the parameter)."""
    try:
        if field.type == FieldDescriptor.TYPE_BOOL:
            if raw.lower() in ("true", "1"):
                return True
            if raw.lower() in ("false", "0"):
                return False
            raise ValueError(raw)
        if field.type in _INTS:
            return int(raw)
        if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
            return float(raw)
        if field.type == FieldDescriptor.TYPE_ENUM:
            if raw.lstrip("-").isdigit():
                return int(raw)
            if field.enum_type.values_by_name.get(raw) is None:
                raise ValueError(raw)
            return raw
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            full_name = field.message_type.full_name
            if full_name in _WRAPPERS:
                return _scalar(field.message_type.fields_by_name["value"], raw, name)
            if full_name in _STRING_FORM:
                return raw
            raise ValueError(f"message field {full_name} cannot be set from a parameter")
    except ValueError as exc:
        raise InvalidArgument(f"invalid value for parameter {name}: {raw!r} ({exc})") from exc
    return raw


def _assign(tree: dict[str, Any], chain: list[FieldDescriptor], values: list[str], name: str) -> None:
    for field in chain[:-1]:
        if field.is_repeated:
            raise InvalidArgument(f"parameter {name} goes through repeated field {field.name}")
        tree = tree.setdefault(field.name, {})
    leaf = chain[-1]
    converted = [_scalar(leaf, value, name) for value in values]
    tree[leaf.name] = converted if leaf.is_repeated else converted[-1]


def _covered(dotted: str, excluded: Iterable[str]) -> bool:
    return any(dotted == e or dotted.startswith(e + ".") or e.startswith(dotted + ".") for e in excluded)


def _parse_body(message: Message, body: str, raw: bytes, binary: bool) -> None:
    if not raw.strip():
        return
    if body == "*":
        target = message
    else:
        field = message.DESCRIPTOR.fields_by_name[body]
        if field.type != FieldDescriptor.TYPE_MESSAGE or field.is_repeated:
            raise InvalidArgument(f"body field {body} must be a message")
        target = getattr(message, body)
    if binary:
        try:
            target.ParseFromString(raw)
        except DecodeError as exc:
            raise InvalidArgument(f"invalid protobuf body: {exc}") from exc
        return
    try:
        json_format.Parse(raw, target)
    except json_format.ParseError as exc:
        raise InvalidArgument(f"invalid JSON body: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidArgument("request body is not UTF-8 JSON") from exc


def build_request(
    message_type: type[M],
    body: str,
    raw_body: bytes,
    path_params: Mapping[str, str],
    query: Iterable[tuple[str, str]],
    binary: bool = False,
) -> M:
    """``path_params`` maps dotted field paths to values (already URL-decoded); ``binary``: protobuf body."""
    message = message_type()
    descriptor = message.DESCRIPTOR
    if body:
        _parse_body(message, body, raw_body, binary)
    tree: dict[str, Any] = {}
    for dotted, value in path_params.items():
        chain = resolve_path(descriptor, dotted)
        if chain is None:
            raise InvalidArgument(f"path parameter {dotted} is not a field of {descriptor.full_name}")
        _assign(tree, chain, [value], dotted)
    if body != "*":
        excluded = [*path_params, *([body] if body else [])]
        grouped: dict[str, list[str]] = {}
        for key, value in query:
            grouped.setdefault(key, []).append(value)
        for key, values in grouped.items():
            chain = resolve_path(descriptor, key)
            if chain is None or _covered(".".join(f.name for f in chain), excluded):
                continue
            _assign(tree, chain, values, key)
    if tree:
        overlay = message_type()
        try:
            json_format.ParseDict(tree, overlay)
        except json_format.ParseError as exc:
            raise InvalidArgument(f"invalid request parameters: {exc}") from exc
        message.MergeFrom(overlay)
    return message
