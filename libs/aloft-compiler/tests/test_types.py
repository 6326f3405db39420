"""Flyte's type-compatibility rules (AreTypesCastable) and literal typing (LiteralTypeForLiteral)."""

from __future__ import annotations

from typing import Any

import pytest
from flyteidl.core import literals_pb2, types_pb2
from google.protobuf import struct_pb2

from aloft_compiler import is_castable, literal_matches, literal_type_of

S = types_pb2.SimpleType
LT = types_pb2.LiteralType


def simple(kind: int, tag: str = "") -> Any:
    t = LT(simple=kind)
    if tag:
        t.structure.tag = tag
    return t


def coll(t: Any) -> Any:
    return LT(collection_type=t)


def mapping(t: Any) -> Any:
    return LT(map_value_type=t)


def union(*variants: Any) -> Any:
    return LT(union_type=types_pb2.UnionType(variants=list(variants)))


def blob(fmt: str = "", multipart: bool = False) -> Any:
    dim = types_pb2.BlobType.MULTIPART if multipart else types_pb2.BlobType.SINGLE
    return LT(blob=types_pb2.BlobType(format=fmt, dimensionality=dim))


def sd(fmt: str = "", **columns: Any) -> Any:
    cols = [types_pb2.StructuredDatasetType.DatasetColumn(name=n, literal_type=t) for n, t in columns.items()]
    return LT(structured_dataset_type=types_pb2.StructuredDatasetType(format=fmt, columns=cols))


def schema(**columns: int) -> Any:
    cols = [types_pb2.SchemaType.SchemaColumn(name=n, type=t) for n, t in columns.items()]
    return LT(schema=types_pb2.SchemaType(columns=cols))


def enum(*values: str) -> Any:
    return LT(enum_type=types_pb2.EnumType(values=list(values)))


def struct(schema_json: dict[str, Any] | None = None, **fields: Any) -> Any:
    t = LT(simple=S.STRUCT)
    if schema_json is not None:
        t.metadata.update(schema_json)
    for name, field_type in fields.items():
        t.structure.dataclass_type[name].CopyFrom(field_type)
    return t


INT, FLOAT, STR, NONE = simple(S.INTEGER), simple(S.FLOAT), simple(S.STRING), simple(S.NONE)
SC = types_pb2.SchemaType.SchemaColumn


@pytest.mark.parametrize(
    ("upstream", "downstream", "expected"),
    [
        (INT, INT, True),
        (INT, FLOAT, False),
        (STR, INT, False),
        # collections and maps recurse; a collection/map of none fits anything
        (coll(INT), coll(INT), True),
        (coll(INT), coll(STR), False),
        (coll(coll(INT)), coll(coll(INT)), True),
        (coll(NONE), coll(STR), True),
        (INT, coll(INT), False),
        (mapping(INT), mapping(INT), True),
        (mapping(INT), mapping(FLOAT), False),
        (mapping(NONE), mapping(FLOAT), True),
        (coll(INT), mapping(INT), False),
        # unions: exactly one variant must accept a plain value; every upstream variant must fit somewhere
        (INT, union(INT, STR), True),
        (FLOAT, union(INT, STR), False),
        (NONE, union(INT, NONE), True),
        (union(INT, NONE), union(INT, STR, NONE), True),
        (union(INT, FLOAT), union(INT, STR), False),
        (union(INT), INT, True),  # single-variant union (a union literal's type) unwraps
        (union(INT, NONE), INT, False),
        (INT, union(INT, INT), False),  # ambiguous
        # none fits only none (and optional unions)
        (NONE, NONE, True),
        (INT, NONE, False),
        (NONE, INT, False),
        # blobs: formats must agree unless either side is generic
        (blob("csv"), blob("csv"), True),
        (blob("csv"), blob("parquet"), False),
        (blob(""), blob("csv"), True),
        (blob("csv"), blob(""), True),
        (blob("csv"), STR, False),
        (STR, blob(""), False),
        # enums and strings convert both ways; enum values must otherwise match
        (enum("a", "b"), STR, True),
        (STR, enum("a", "b"), True),
        (enum("a", "b"), enum("a", "b"), True),
        (enum("a", "b"), enum("a", "c"), False),
        (INT, enum("a"), False),
        # structured datasets: format and the downstream's columns
        (sd("parquet"), sd(""), True),
        (sd("parquet"), sd("PARQUET"), True),
        (sd("csv"), sd("parquet"), False),
        (sd("", a=INT, b=STR), sd("", a=INT), True),
        (sd("", a=INT), sd("", a=INT, b=STR), False),
        (sd("", a=STR), sd("", a=INT), False),
        (sd("", a=INT), sd(""), True),
        (NONE, sd(""), True),
        (INT, sd(""), False),
        (schema(a=SC.INTEGER), sd("", a=INT), True),
        (schema(a=SC.STRING), sd("", a=INT), False),
        (schema(a=SC.INTEGER), sd("csv", a=INT), False),
        (sd("", a=INT), schema(a=SC.INTEGER), True),
        (sd("csv"), schema(), False),
        (schema(a=SC.INTEGER, b=SC.FLOAT), schema(a=SC.INTEGER), True),
        (schema(a=SC.INTEGER), schema(a=SC.FLOAT), False),
        # generic structs and dataclasses
        (struct(), struct(), True),
        (struct({"type": "object"}), struct(), True),
        (simple(S.STRUCT), INT, False),
        (simple(S.INTEGER, tag="int"), simple(S.INTEGER, tag="other"), False),
        (simple(S.INTEGER, tag="int"), simple(S.INTEGER, tag="int"), True),
        (simple(S.INTEGER), simple(S.INTEGER, tag="int"), True),
    ],
)
def test_is_castable(upstream: Any, downstream: Any, expected: bool) -> None:
    assert is_castable(upstream, downstream) is expected


POINT = {
    "type": "object",
    "title": "Point",
    "required": ["x", "y"],
    "properties": {"x": {"type": "integer"}, "y": {"type": "number"}},
}


def test_dataclass_schemas_same_or_super_type() -> None:
    same = struct(POINT)
    wider = struct(
        {**POINT, "required": ["x", "y", "z"], "properties": {**POINT["properties"], "z": {"type": "string"}}}
    )
    other = struct({"type": "object", "required": ["x"], "properties": {"x": {"type": "string"}}})

    assert is_castable(struct(POINT), same)
    assert is_castable(wider, struct(POINT)), "an upstream with extra fields fits a narrower downstream"
    assert not is_castable(struct(POINT), wider), "downstream requires z, upstream lacks it"
    assert not is_castable(struct(POINT), other)


def test_nested_dataclass_schemas() -> None:
    """Flyte's typing_test cases: B{b: A{a: int}} vs D{d: C{c: str}}, and the same nesting twice."""

    def nested(outer: str, field: str, inner: str, inner_field: str, inner_type: str) -> dict[str, Any]:
        return {
            "type": "object",
            "title": outer,
            "required": [field],
            "properties": {
                field: {
                    "type": "object",
                    "title": inner,
                    "required": [inner_field],
                    "properties": {inner_field: {"type": inner_type}},
                }
            },
        }

    b_of_a = nested("B", "b", "A", "a", "integer")
    assert is_castable(struct(b_of_a), struct(nested("B", "b", "A", "a", "integer")))
    assert not is_castable(struct(b_of_a), struct(nested("D", "d", "C", "c", "string")))
    assert not is_castable(struct(b_of_a), struct(nested("B", "b", "A", "a", "string")))


def test_literal_type_of_scalars_and_containers() -> None:
    def lit(**kwargs: Any) -> Any:
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(**kwargs)))

    assert literal_type_of(lit(integer=1)) == INT
    assert literal_type_of(lit(string_value="s")) == STR
    ints = literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=[lit(integer=1), lit(integer=2)]))
    assert literal_type_of(ints) == coll(INT)
    mixed = literals_pb2.Literal(
        collection=literals_pb2.LiteralCollection(literals=[lit(integer=1), lit(float_value=2)])
    )
    mixed_type = literal_type_of(mixed)
    assert mixed_type.collection_type.HasField("union_type")
    assert len(mixed_type.collection_type.union_type.variants) == 2
    empty = literals_pb2.Literal(collection=literals_pb2.LiteralCollection())
    assert literal_type_of(empty) == coll(NONE)
    str_map = literals_pb2.Literal(map=literals_pb2.LiteralMap(literals={"a": lit(string_value="x")}))
    assert literal_type_of(str_map) == mapping(STR)
    none = literals_pb2.Literal(scalar=literals_pb2.Scalar(none_type=literals_pb2.Void()))
    assert literal_type_of(none) == NONE
    generic = literals_pb2.Literal(scalar=literals_pb2.Scalar(generic=struct_pb2.Struct()))
    assert literal_type_of(generic) == simple(S.STRUCT)
    msgpack = literals_pb2.Literal(scalar=literals_pb2.Scalar(binary=literals_pb2.Binary(value=b"\x80", tag="msgpack")))
    assert literal_type_of(msgpack) == simple(S.STRUCT)
    assert literal_type_of(literals_pb2.Literal()) is None


def test_literal_matches_expected_types() -> None:
    one = literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=1)))
    wrapped = literals_pb2.Literal(scalar=literals_pb2.Scalar(union=literals_pb2.Union(value=one, type=INT)))
    csv = literals_pb2.Literal(
        scalar=literals_pb2.Scalar(
            blob=literals_pb2.Blob(uri="s3://b/k", metadata=literals_pb2.BlobMetadata(type=blob("csv").blob))
        )
    )

    assert literal_matches(one, INT)
    assert literal_matches(one, union(INT, NONE))
    assert not literal_matches(one, STR)
    assert literal_matches(wrapped, INT)
    assert literal_matches(wrapped, union(INT, STR))
    assert literal_matches(csv, blob("csv"))
    assert literal_matches(csv, blob(""))
    assert not literal_matches(csv, blob("parquet"))
    assert not literal_matches(literals_pb2.Literal(), INT)
