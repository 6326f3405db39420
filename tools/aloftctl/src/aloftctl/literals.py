"""Execution inputs between an execFile's plain YAML values and flyteidl literals, guided by the interface types."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flyteidl.core import literals_pb2, types_pb2
from google.protobuf import json_format, struct_pb2

SIMPLE = types_pb2.SimpleType


class InputError(ValueError):
    """An input value that does not fit its declared type; the message names the input."""


def _primitive(simple: int, value: Any, name: str) -> literals_pb2.Literal:
    primitive = literals_pb2.Primitive()
    try:
        if simple == SIMPLE.INTEGER:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise TypeError
            primitive.integer = int(value)
        elif simple == SIMPLE.FLOAT:
            primitive.float_value = float(value)
        elif simple == SIMPLE.STRING:
            primitive.string_value = value if isinstance(value, str) else json.dumps(value)
        elif simple == SIMPLE.BOOLEAN:
            if isinstance(value, str) and value.lower() in ("true", "false"):
                value = value.lower() == "true"
            if not isinstance(value, bool):
                raise TypeError
            primitive.boolean = value
        elif simple == SIMPLE.DATETIME:
            moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.UTC)
            primitive.datetime.FromDatetime(moment.astimezone(dt.UTC).replace(tzinfo=None))
        elif simple == SIMPLE.DURATION:
            primitive.duration.FromTimedelta(_parse_duration(value))
        else:
            raise TypeError
    except (TypeError, ValueError) as exc:
        raise InputError(f"input {name}: {value!r} is not a valid {SIMPLE.Name(simple).lower()}") from exc
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=primitive))


def _parse_duration(value: Any) -> dt.timedelta:
    if isinstance(value, int | float):
        return dt.timedelta(seconds=value)
    text = str(value).strip()
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for suffix in ("ms", "s", "m", "h"):
        if text.endswith(suffix):
            return dt.timedelta(seconds=float(text[: -len(suffix)]) * units[suffix])
    return dt.timedelta(seconds=float(text))


def to_literal(literal_type: types_pb2.LiteralType, value: Any, name: str) -> literals_pb2.Literal:
    """A YAML value as the literal of ``literal_type`` (flytectl's MakeLiteralForType)."""
    kind = literal_type.WhichOneof("type")
    if value is None and kind != "union_type":
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(none_type=literals_pb2.Void()))
    if kind == "simple":
        simple = literal_type.simple
        if simple == SIMPLE.NONE:
            return literals_pb2.Literal(scalar=literals_pb2.Scalar(none_type=literals_pb2.Void()))
        if simple == SIMPLE.STRUCT:
            generic = struct_pb2.Struct()
            if not isinstance(value, dict):
                raise InputError(f"input {name}: expected a mapping for a struct, got {value!r}")
            generic.update(value)
            return literals_pb2.Literal(scalar=literals_pb2.Scalar(generic=generic))
        return _primitive(simple, value, name)
    if kind == "collection_type":
        if not isinstance(value, list):
            raise InputError(f"input {name}: expected a list, got {value!r}")
        items = [to_literal(literal_type.collection_type, item, f"{name}[{i}]") for i, item in enumerate(value)]
        return literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=items))
    if kind == "map_value_type":
        if not isinstance(value, dict):
            raise InputError(f"input {name}: expected a mapping, got {value!r}")
        entries = {str(k): to_literal(literal_type.map_value_type, v, f"{name}.{k}") for k, v in value.items()}
        return literals_pb2.Literal(map=literals_pb2.LiteralMap(literals=entries))
    if kind == "enum_type":
        if str(value) not in literal_type.enum_type.values:
            raise InputError(f"input {name}: {value!r} is not one of {list(literal_type.enum_type.values)}")
        return _primitive(SIMPLE.STRING, str(value), name)
    if kind == "blob":
        blob = literals_pb2.Blob(uri=str(value), metadata=literals_pb2.BlobMetadata(type=literal_type.blob))
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(blob=blob))
    if kind == "structured_dataset_type":
        dataset = literals_pb2.StructuredDataset(
            uri=str(value),
            metadata=literals_pb2.StructuredDatasetMetadata(
                structured_dataset_type=literal_type.structured_dataset_type
            ),
        )
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(structured_dataset=dataset))
    if kind == "union_type":
        return _union(literal_type, value, name)
    raise InputError(f"input {name}: aloftctl cannot build a literal of type {kind or 'unknown'} from the execFile")


def _union(literal_type: types_pb2.LiteralType, value: Any, name: str) -> literals_pb2.Literal:
    failures: list[str] = []
    for variant in literal_type.union_type.variants:
        if value is None and not (variant.HasField("simple") and variant.simple == SIMPLE.NONE):
            continue
        try:
            inner = to_literal(variant, value, name)
        except InputError as exc:
            failures.append(str(exc))
            continue
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(union=literals_pb2.Union(value=inner, type=variant)))
    raise InputError(f"input {name}: {value!r} fits none of the union's variants ({'; '.join(failures)})")


def to_literal_map(
    types: dict[str, types_pb2.LiteralType], values: dict[str, Any], required: set[str]
) -> literals_pb2.LiteralMap:
    unknown = sorted(set(values) - set(types))
    if unknown:
        raise InputError(
            f"unknown input(s) {', '.join(unknown)}; the interface has {', '.join(sorted(types)) or 'none'}"
        )
    missing = sorted(name for name in required if name not in values)
    if missing:
        raise InputError(f"missing required input(s): {', '.join(missing)}")
    return literals_pb2.LiteralMap(
        literals={name: to_literal(types[name], value, name) for name, value in values.items()}
    )


def to_python(literal: literals_pb2.Literal) -> Any:
    """A literal as the plain value an execFile shows (defaults of a launch plan)."""
    kind = literal.WhichOneof("value")
    if kind == "collection":
        return [to_python(item) for item in literal.collection.literals]
    if kind == "map":
        return {key: to_python(item) for key, item in literal.map.literals.items()}
    if kind != "scalar":
        return None
    scalar = literal.scalar
    which = scalar.WhichOneof("value")
    if which == "primitive":
        primitive = scalar.primitive
        field = primitive.WhichOneof("value")
        if field == "datetime":
            return primitive.datetime.ToDatetime(tzinfo=dt.UTC).isoformat()
        if field == "duration":
            return f"{primitive.duration.ToTimedelta().total_seconds():g}s"
        return getattr(primitive, field) if field else None
    if which == "generic":
        return json_format.MessageToDict(scalar.generic)
    if which == "blob":
        return scalar.blob.uri
    if which == "structured_dataset":
        return scalar.structured_dataset.uri
    if which == "union":
        return to_python(scalar.union.value)
    return None


def zero_value(literal_type: types_pb2.LiteralType) -> Any:
    """A placeholder for a required input in a generated execFile (flytectl writes the type's zero value)."""
    kind = literal_type.WhichOneof("type")
    if kind == "simple":
        return {
            SIMPLE.INTEGER: 0,
            SIMPLE.FLOAT: 0.0,
            SIMPLE.STRING: "",
            SIMPLE.BOOLEAN: False,
            SIMPLE.DATETIME: "1970-01-01T00:00:00+00:00",
            SIMPLE.DURATION: "0s",
            SIMPLE.STRUCT: {},
        }.get(literal_type.simple)
    if kind == "collection_type":
        return [zero_value(literal_type.collection_type)]
    if kind == "map_value_type":
        return {"": zero_value(literal_type.map_value_type)}
    if kind == "enum_type":
        return literal_type.enum_type.values[0] if literal_type.enum_type.values else ""
    if kind in ("blob", "schema", "structured_dataset_type"):
        return ""
    if kind == "union_type" and literal_type.union_type.variants:
        return zero_value(literal_type.union_type.variants[0])
    return None
