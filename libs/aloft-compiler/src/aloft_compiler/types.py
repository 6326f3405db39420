"""Flyte's type checker: which upstream literal types may flow into which downstream types.

Behaviour follows flytepropeller/pkg/compiler/validators/typing.go (`AreTypesCastable`) and utils.go
(`LiteralTypeForLiteral`). The one approximation: Flyte compares dataclass JSON schemas with a JSON-schema
comparison library; here a structural check stands in (same schema, or the downstream schema's properties and
required fields are all present in the upstream one with equal types).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flyteidl.core import literals_pb2, types_pb2
from google.protobuf import json_format, text_format

LiteralType = types_pb2.LiteralType
SimpleType = types_pb2.SimpleType
_MSGPACK_TAG = "msgpack"
_PARQUET = "parquet"
_SCHEMA_COLUMN_TO_SIMPLE = {
    types_pb2.SchemaType.SchemaColumn.INTEGER: SimpleType.INTEGER,
    types_pb2.SchemaType.SchemaColumn.FLOAT: SimpleType.FLOAT,
    types_pb2.SchemaType.SchemaColumn.STRING: SimpleType.STRING,
    types_pb2.SchemaType.SchemaColumn.BOOLEAN: SimpleType.BOOLEAN,
    types_pb2.SchemaType.SchemaColumn.DATETIME: SimpleType.DATETIME,
    types_pb2.SchemaType.SchemaColumn.DURATION: SimpleType.DURATION,
}


def type_str(literal_type: types_pb2.LiteralType | None) -> str:
    """One-line rendering of a LiteralType for error messages."""
    if literal_type is None:
        return "None"
    return text_format.MessageToString(literal_type, as_one_line=True) or "<empty>"


def _kind(t: Any) -> str | None:
    kind: str | None = t.WhichOneof("type")
    return kind


def is_none_type(t: Any) -> bool:
    return t is not None and _kind(t) == "simple" and t.simple == SimpleType.NONE


def _tag(t: Any) -> str:
    return str(t.structure.tag) if t.HasField("structure") else ""


# ---- checkers: each answers "can a value of upstream type be used where this downstream type is expected" ----


def _trivial_casts(downstream: Any, upstream: Any) -> bool:
    if _kind(upstream) == "enum_type" and _kind(downstream) == "simple" and downstream.simple == SimpleType.STRING:
        return True
    if _kind(downstream) == "enum_type" and _kind(upstream) == "simple" and upstream.simple == SimpleType.STRING:
        return True
    if _tag(upstream) and _tag(downstream) != _tag(upstream):
        return False
    if _is_struct(upstream) and _is_struct(downstream):
        if not upstream.HasField("metadata") or not downstream.HasField("metadata"):
            return True
        up_schema = json_format.MessageToDict(upstream.metadata)
        down_schema = json_format.MessageToDict(downstream.metadata)
        return up_schema == down_schema or _schema_is_super_type(up_schema, down_schema)
    return _without_annotations(upstream) == _without_annotations(downstream)


def _is_struct(t: Any) -> bool:
    return _kind(t) == "simple" and t.simple == SimpleType.STRUCT


def _without_annotations(t: Any) -> Any:
    copy = LiteralType()
    copy.CopyFrom(t)
    for name in ("structure", "metadata", "annotation"):
        copy.ClearField(name)
    return copy


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_names(value: Any) -> set[str]:
    return {v for v in value if isinstance(v, str)} if isinstance(value, list) else set()


def _schema_is_super_type(upstream: Any, downstream: Any) -> bool:
    """True when every value valid for the upstream JSON schema is valid for the downstream one (structurally)."""
    upstream, downstream = _as_dict(upstream), _as_dict(downstream)
    if downstream.get("type") != upstream.get("type"):
        return False
    down_props, up_props = _as_dict(downstream.get("properties")), _as_dict(upstream.get("properties"))
    down_required = _as_names(downstream.get("required"))
    if not down_required <= set(up_props) | _as_names(upstream.get("required")):
        return False
    for name, down_prop in down_props.items():
        if name not in up_props:
            if name in down_required:
                return False
            continue
        up_prop = _as_dict(up_props[name])
        down_prop = _as_dict(down_prop)
        if down_prop.get("properties") or up_prop.get("properties"):
            if not _schema_is_super_type(up_prop, down_prop):
                return False
        elif down_prop.get("type") != up_prop.get("type"):
            return False
    if downstream.get("additionalProperties") is False:
        return set(up_props) <= set(down_props)
    return True


def _none_casts(downstream: Any, upstream: Any) -> bool:
    return is_none_type(upstream)


def _map_casts(downstream: Any, upstream: Any) -> bool:
    if _kind(upstream) != "map_value_type":
        return False
    if is_none_type(upstream.map_value_type):
        return True
    return _checker(downstream.map_value_type)(downstream.map_value_type, upstream.map_value_type)


def _collection_casts(downstream: Any, upstream: Any) -> bool:
    if _kind(upstream) != "collection_type":
        return False
    if is_none_type(upstream.collection_type):
        return True
    return _checker(downstream.collection_type)(downstream.collection_type, upstream.collection_type)


def _blob_casts(downstream: Any, upstream: Any) -> bool:
    if _kind(upstream) != "blob":
        return False
    up_format, down_format = upstream.blob.format, downstream.blob.format
    return not up_format or not down_format or up_format == down_format


def _schema_casts(downstream: Any, upstream: Any) -> bool:
    kind = _kind(upstream)
    if kind == "schema":
        return _schema_from_schema(upstream.schema, downstream.schema)
    if kind != "structured_dataset_type":
        return False
    fmt = upstream.structured_dataset_type.format
    if fmt and fmt.lower() != _PARQUET:
        return False
    return _schema_from_structured_dataset(upstream.structured_dataset_type, downstream.schema)


def _structured_dataset_casts(downstream: Any, upstream: Any) -> bool:
    if is_none_type(upstream):
        return True
    kind = _kind(upstream)
    if kind == "schema":
        fmt = downstream.structured_dataset_type.format
        if fmt and fmt.lower() != _PARQUET:
            return False
        return _structured_dataset_from_schema(upstream.schema, downstream.structured_dataset_type)
    if kind != "structured_dataset_type":
        return False
    return _structured_dataset_from_structured_dataset(
        upstream.structured_dataset_type, downstream.structured_dataset_type
    )


def _union_casts(downstream: Any, upstream: Any) -> bool:
    variants = list(downstream.union_type.variants)
    if _kind(upstream) == "union_type":
        return all(any(is_castable(u, d) for d in variants) for u in upstream.union_type.variants)
    # Exactly one variant must accept the value; two would make the union ambiguous.
    return sum(1 for variant in variants if is_castable(upstream, variant)) == 1


def _schema_from_schema(upstream: Any, downstream: Any) -> bool:
    if not upstream.columns or not downstream.columns:
        return True
    up_columns = {c.name: c.type for c in upstream.columns}
    return all(c.name in up_columns and up_columns[c.name] == c.type for c in downstream.columns)


def _structured_dataset_from_structured_dataset(upstream: Any, downstream: Any) -> bool:
    if upstream.format and downstream.format and upstream.format.lower() != downstream.format.lower():
        return False
    if not upstream.columns or not downstream.columns:
        return True
    up_columns = {c.name: c.literal_type for c in upstream.columns}
    for column in downstream.columns:
        if column.name not in up_columns:
            return False
        if not _checker(column.literal_type)(column.literal_type, up_columns[column.name]):
            return False
    return True


def _structured_dataset_from_schema(upstream: Any, downstream: Any) -> bool:
    if not upstream.columns or not downstream.columns:
        return True
    up_columns = {c.name: c.type for c in upstream.columns}
    return all(
        c.name in up_columns and _SCHEMA_COLUMN_TO_SIMPLE.get(up_columns[c.name]) == c.literal_type.simple
        for c in downstream.columns
    )


def _schema_from_structured_dataset(upstream: Any, downstream: Any) -> bool:
    if not upstream.columns or not downstream.columns:
        return True
    up_columns = {c.name: c.literal_type.simple for c in upstream.columns}
    return all(
        c.name in up_columns and _SCHEMA_COLUMN_TO_SIMPLE.get(c.type) == up_columns[c.name] for c in downstream.columns
    )


_Checker = Callable[[Any, Any], bool]
_CHECKERS: dict[str | None, _Checker] = {
    "collection_type": _collection_casts,
    "map_value_type": _map_casts,
    "blob": _blob_casts,
    "schema": _schema_casts,
    "union_type": _union_casts,
    "structured_dataset_type": _structured_dataset_casts,
}


def _checker(downstream: Any) -> _Checker:
    if is_none_type(downstream):
        return _none_casts
    return _CHECKERS.get(_kind(downstream), _trivial_casts)


def is_castable(upstream: types_pb2.LiteralType | None, downstream: types_pb2.LiteralType | None) -> bool:
    """Flyte's AreTypesCastable(upstream, downstream)."""
    if upstream is None or downstream is None:
        return False
    check = _checker(downstream)
    single_variant = _kind(upstream) == "union_type" and len(upstream.union_type.variants) == 1
    if single_variant and check(downstream, upstream.union_type.variants[0]):
        return True
    return check(downstream, upstream)


# ---- literal -> type ----


def _simple(simple: int) -> Any:
    return LiteralType(simple=simple)


# A primitive's value field -> the simple type it carries (an unset primitive carries NONE).
PRIMITIVE_SIMPLE_TYPES = {
    "integer": SimpleType.INTEGER,
    "float_value": SimpleType.FLOAT,
    "string_value": SimpleType.STRING,
    "boolean": SimpleType.BOOLEAN,
    "datetime": SimpleType.DATETIME,
    "duration": SimpleType.DURATION,
}


def literal_type_of_primitive(primitive: Any) -> Any:
    return _simple(PRIMITIVE_SIMPLE_TYPES.get(primitive.WhichOneof("value") or "", SimpleType.NONE))


def literal_type_of_scalar(scalar: Any) -> Any | None:
    """Flyte's literalTypeForScalar; None when the scalar carries no recognizable value."""
    kind = scalar.WhichOneof("value")
    if kind == "primitive":
        return literal_type_of_primitive(scalar.primitive)
    if kind == "blob":
        return LiteralType(blob=scalar.blob.metadata.type) if scalar.blob.HasField("metadata") else None
    if kind == "binary":
        return _simple(SimpleType.STRUCT if scalar.binary.tag == _MSGPACK_TAG else SimpleType.BINARY)
    if kind == "schema":
        return LiteralType(schema=scalar.schema.type)
    if kind == "structured_dataset":
        sd = scalar.structured_dataset
        if not sd.HasField("metadata"):
            return LiteralType(structured_dataset_type=types_pb2.StructuredDatasetType())
        return LiteralType(structured_dataset_type=sd.metadata.structured_dataset_type)
    if kind == "none_type":
        return _simple(SimpleType.NONE)
    if kind == "error":
        return _simple(SimpleType.ERROR)
    if kind == "generic":
        return _simple(SimpleType.STRUCT)
    if kind == "union":
        return LiteralType(union_type=types_pb2.UnionType(variants=[scalar.union.type]))
    return None


def _literal_type_of_many(literals: Iterable[Any]) -> Any | None:
    distinct: dict[bytes, Any] = {}
    none_collection: Any | None = None
    for literal in literals:
        lt = literal_type_of(literal)
        if lt is None:
            return None  # one unrecognizable element leaves the container's type unknown
        if literal.WhichOneof("value") == "collection" and not literal.collection.literals:
            none_collection = lt
            continue
        key = lt.SerializeToString(deterministic=True)
        distinct.setdefault(key, lt)
    types = list(distinct.values())
    if not types and none_collection is not None:
        types = [none_collection]
    if not types:
        return _simple(SimpleType.NONE)
    if len(types) == 1:
        return types[0]
    types.sort(key=type_str)
    return _multiple_type_union(types)


def _multiple_type_union(types: list[Any]) -> Any:
    variants: list[Any] = []
    nested = False
    for t in types:
        if _kind(t) == "collection_type" and _kind(t.collection_type) == "union_type":
            nested = True
            variants.extend(t.collection_type.union_type.variants)
        else:
            variants.append(t)
    union = LiteralType(union_type=types_pb2.UnionType(variants=variants))
    return LiteralType(collection_type=union) if nested else union


def literal_type_of(literal: literals_pb2.Literal) -> types_pb2.LiteralType | None:
    """Flyte's LiteralTypeForLiteral: the type a literal value carries (None if unrecognizable)."""
    kind = literal.WhichOneof("value")
    if kind == "scalar":
        return literal_type_of_scalar(literal.scalar)
    if kind == "collection":
        return LiteralType(collection_type=_literal_type_of_many(literal.collection.literals) or LiteralType())
    if kind == "map":
        return LiteralType(map_value_type=_literal_type_of_many(literal.map.literals.values()) or LiteralType())
    if kind == "offloaded_metadata":
        return literal.offloaded_metadata.inferred_type
    return None


def literal_type_problem(literal_type: Any) -> str | None:
    """Flyte's ValidateLiteralType: a reason when a (possibly nested) literal type is unknown (an empty
    LiteralType stands for an element whose type could not be determined)."""
    if literal_type is None or _kind(literal_type) is None:
        return "got unknown literal type: [<nil>]"
    if _kind(literal_type) == "collection_type":
        return literal_type_problem(literal_type.collection_type)
    if _kind(literal_type) == "map_value_type":
        return literal_type_problem(literal_type.map_value_type)
    return None


def literal_matches(literal: literals_pb2.Literal, expected: types_pb2.LiteralType) -> bool:
    """Whether a literal value may be passed where `expected` is declared (admin's execution input check)."""
    literal_type = literal_type_of(literal)
    return literal_type_problem(literal_type) is None and is_castable(literal_type, expected)


__all__ = [
    "is_castable",
    "is_none_type",
    "literal_matches",
    "literal_type_of",
    "literal_type_of_primitive",
    "literal_type_of_scalar",
    "literal_type_problem",
    "type_str",
]
