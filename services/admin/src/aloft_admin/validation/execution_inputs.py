"""Inputs of a new execution checked against its launch plan (flyteadmin's CheckAndFetchInputsForExecution).

User inputs may only name the launch plan's default inputs (parameters), never a fixed input; each must match
the parameter's type; parameters left out take their default, and a required one without a value is an error.
Every error is INVALID_ARGUMENT naming the input.
"""

from __future__ import annotations

from flyteidl.core import interface_pb2, literals_pb2, types_pb2

from aloft_service.errors import InvalidArgument

SIMPLE = types_pb2.SimpleType
# Which primitive value each simple type accepts (an int is accepted where a float is expected, as Flyte casts).
_PRIMITIVES = {
    SIMPLE.INTEGER: {"integer"},
    SIMPLE.FLOAT: {"float_value", "integer"},
    SIMPLE.STRING: {"string_value"},
    SIMPLE.BOOLEAN: {"boolean"},
    SIMPLE.DATETIME: {"datetime"},
    SIMPLE.DURATION: {"duration"},
}


def merge_inputs(
    expected: interface_pb2.ParameterMap, fixed: literals_pb2.LiteralMap, user_inputs: literals_pb2.LiteralMap
) -> literals_pb2.LiteralMap:
    """The execution's full inputs: defaults, overridden by user inputs, plus fixed inputs."""
    parameters = expected.parameters
    for name, literal in user_inputs.literals.items():
        if name in fixed.literals:
            raise InvalidArgument(f"input {name} cannot be overridden: it is a fixed input of the launch plan")
        if name not in parameters:
            raise InvalidArgument(f"invalid input {name}: the launch plan has no such input")
        expected = parameters[name].var.type
        if not literal_matches(literal, expected):
            raise InvalidArgument(f"invalid {name} input wrong type: expected {describe_type(expected)}")
    merged = literals_pb2.LiteralMap()
    for name, parameter in parameters.items():
        if name in user_inputs.literals:
            merged.literals[name].CopyFrom(user_inputs.literals[name])
        elif parameter.HasField("default"):
            merged.literals[name].CopyFrom(parameter.default)
        elif parameter.required:
            raise InvalidArgument(f"required input {name} is missing")
    for name, literal in fixed.literals.items():
        merged.literals[name].CopyFrom(literal)
    return merged


def describe_type(literal_type: types_pb2.LiteralType) -> str:
    kind = literal_type.WhichOneof("type")
    if kind == "simple":
        return SIMPLE.Name(literal_type.simple)
    if kind == "collection_type":
        return f"list of {describe_type(literal_type.collection_type)}"
    if kind == "map_value_type":
        return f"map of {describe_type(literal_type.map_value_type)}"
    return kind or "unknown type"


def literal_matches(literal: literals_pb2.Literal, expected: types_pb2.LiteralType) -> bool:
    """Structural check of a literal against a type; kinds we cannot judge without more metadata pass."""
    kind = expected.WhichOneof("type")
    value = literal.WhichOneof("value")
    if value == "offloaded_metadata" or kind is None:
        return True
    if _is_none(literal):
        return (kind == "simple" and expected.simple == SIMPLE.NONE) or _union_allows_none(expected)
    if kind == "union_type":
        return any(literal_matches(_unwrap_union(literal), variant) for variant in expected.union_type.variants)
    if kind == "collection_type":
        return value == "collection" and all(
            literal_matches(item, expected.collection_type) for item in literal.collection.literals
        )
    if kind == "map_value_type":
        return value == "map" and all(
            literal_matches(item, expected.map_value_type) for item in literal.map.literals.values()
        )
    if value != "scalar":
        return False
    return _scalar_matches(literal.scalar, expected)


def _scalar_matches(scalar: literals_pb2.Scalar, expected: types_pb2.LiteralType) -> bool:
    kind = expected.WhichOneof("type")
    scalar_kind = scalar.WhichOneof("value")
    if scalar_kind == "union":
        return literal_matches(scalar.union.value, expected)
    if kind == "simple":
        if expected.simple in _PRIMITIVES:
            return scalar_kind == "primitive" and scalar.primitive.WhichOneof("value") in _PRIMITIVES[expected.simple]
        if expected.simple == SIMPLE.STRUCT:
            return scalar_kind in ("generic", "binary")
        if expected.simple == SIMPLE.BINARY:
            return scalar_kind == "binary"
        if expected.simple == SIMPLE.ERROR:
            return scalar_kind == "error"
        return True
    if kind == "enum_type":
        return (
            scalar_kind == "primitive"
            and scalar.primitive.WhichOneof("value") == "string_value"
            and scalar.primitive.string_value in expected.enum_type.values
        )
    if kind == "blob":
        return scalar_kind == "blob"
    if kind == "schema":
        return scalar_kind == "schema"
    if kind == "structured_dataset_type":
        return scalar_kind == "structured_dataset"
    return True


def _is_none(literal: literals_pb2.Literal) -> bool:
    return literal.WhichOneof("value") == "scalar" and literal.scalar.WhichOneof("value") == "none_type"


def _union_allows_none(expected: types_pb2.LiteralType) -> bool:
    return expected.WhichOneof("type") == "union_type" and any(
        variant.WhichOneof("type") == "simple" and variant.simple == SIMPLE.NONE
        for variant in expected.union_type.variants
    )


def _unwrap_union(literal: literals_pb2.Literal) -> literals_pb2.Literal:
    if literal.WhichOneof("value") == "scalar" and literal.scalar.WhichOneof("value") == "union":
        return literal.scalar.union.value
    return literal
