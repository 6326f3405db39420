"""Attribute access into promise outputs (``o0.a["b"][0]``), following flytepropeller's attr-path resolution:
collections and maps are walked literal by literal; a dataclass leaf is walked inside its msgpack binary
(re-encoded as msgpack) or its protobuf Struct (converted back to a literal)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgpack
from flyteidl.core import literals_pb2, types_pb2
from google.protobuf import json_format, struct_pb2

from aloft_propeller.nodes.errors import NodeError


class AttrPathError(NodeError):
    code = "PromiseAttributeResolveError"


def _key(attr: types_pb2.PromiseAttribute) -> str | int:
    return attr.string_value if attr.WhichOneof("value") == "string_value" else attr.int_value


def _step(node_id: str, current: Any, attr: types_pb2.PromiseAttribute) -> Any:
    key = _key(attr)
    if isinstance(current, dict):
        if key not in current:
            raise AttrPathError(node_id, f"key [{key}] does not exist in {sorted(current)}")
        return current[key]
    if isinstance(current, list):
        if not isinstance(key, int) or key >= len(current):
            raise AttrPathError(node_id, f"index [{key}] is out of range of a list of {len(current)}")
        return current[key]
    raise AttrPathError(node_id, f"cannot access [{key}] on a {type(current).__name__}")


def resolve_attr_path(
    node_id: str, literal: literals_pb2.Literal, path: Sequence[types_pb2.PromiseAttribute]
) -> literals_pb2.Literal:
    current = literal
    index = 0
    while index < len(path):
        kind = current.WhichOneof("value")
        if kind == "map":
            key = path[index].string_value
            if key not in current.map.literals:
                raise AttrPathError(node_id, f"key [{key}] does not exist in literal map")
            current = current.map.literals[key]
        elif kind == "collection":
            position = path[index].int_value
            if position >= len(current.collection.literals):
                raise AttrPathError(node_id, f"index [{position}] is out of range")
            current = current.collection.literals[position]
        else:
            break
        index += 1
    rest = path[index:]
    if not rest:
        return current
    scalar = current.scalar
    if current.WhichOneof("value") == "scalar" and scalar.WhichOneof("value") == "binary":
        return _resolve_in_binary(node_id, scalar.binary, rest)
    if current.WhichOneof("value") == "scalar" and scalar.WhichOneof("value") == "generic":
        return _resolve_in_struct(node_id, scalar.generic, rest)
    raise AttrPathError(node_id, "attribute access on a literal that is not a collection, map or dataclass")


def _resolve_in_binary(
    node_id: str, binary: literals_pb2.Binary, path: Sequence[types_pb2.PromiseAttribute]
) -> literals_pb2.Literal:
    if binary.tag != "msgpack":
        raise AttrPathError(node_id, f"unsupported serialization format {binary.tag!r} for attribute access")
    current = msgpack.unpackb(binary.value, raw=False, strict_map_key=False)
    for attr in path:
        current = _step(node_id, current, attr)
    packed = msgpack.packb(current, use_bin_type=True)
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(binary=literals_pb2.Binary(value=packed, tag="msgpack")))


def _resolve_in_struct(
    node_id: str, struct: struct_pb2.Struct, path: Sequence[types_pb2.PromiseAttribute]
) -> literals_pb2.Literal:
    current: Any = json_format.MessageToDict(struct)
    for attr in path:
        current = _step(node_id, current, attr)
    return value_to_literal(node_id, current)


def value_to_literal(node_id: str, value: Any) -> literals_pb2.Literal:
    if isinstance(value, dict):
        struct = struct_pb2.Struct()
        struct.update(value)
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(generic=struct))
    if isinstance(value, list):
        items = [value_to_literal(node_id, item) for item in value]
        return literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=items))
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=_primitive(node_id, value)))


def _primitive(node_id: str, value: Any) -> literals_pb2.Primitive:
    if isinstance(value, bool):
        return literals_pb2.Primitive(boolean=value)
    if isinstance(value, str):
        return literals_pb2.Primitive(string_value=value)
    if isinstance(value, int):
        return literals_pb2.Primitive(integer=value)
    if isinstance(value, float):
        # Struct numbers are doubles; whole numbers came from ints more often than not, as in Go's decoding.
        return literals_pb2.Primitive(float_value=value)
    raise AttrPathError(node_id, f"cannot convert a {type(value).__name__} to a literal")
