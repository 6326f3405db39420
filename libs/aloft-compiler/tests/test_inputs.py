"""Execution input validation and launch-plan parameter maps (flyteadmin's rules, every problem collected)."""

from __future__ import annotations

from typing import Any

import pytest
from flyteidl.core import interface_pb2, literals_pb2, types_pb2

from aloft_compiler import CompileErrors, inputs, launch_plan_expected_inputs, validate_inputs, validate_parameter_map
from aloft_compiler.errors import ErrorCollector
from aloft_compiler.types import is_castable, literal_type_of, literal_type_problem

INT = types_pb2.LiteralType(simple=types_pb2.SimpleType.INTEGER)
STR = types_pb2.LiteralType(simple=types_pb2.SimpleType.STRING)


def lit(value: Any) -> Any:
    primitive = (
        literals_pb2.Primitive(integer=value) if isinstance(value, int) else literals_pb2.Primitive(string_value=value)
    )
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=primitive))


def params(**spec: tuple[Any, Any]) -> Any:
    """name=(type, default-or-None); None default means required."""
    out = interface_pb2.ParameterMap()
    for name, (lt, default) in spec.items():
        p = out.parameters[name]
        p.var.type.CopyFrom(lt)
        if default is None:
            p.required = True
        else:
            p.default.CopyFrom(lit(default))
    return out


def lmap(**values: Any) -> Any:
    return literals_pb2.LiteralMap(literals={k: lit(v) for k, v in values.items()})


def test_defaults_are_filled_and_fixed_inputs_added() -> None:
    expected = params(a=(INT, None), b=(STR, "hello"))

    result = validate_inputs(lmap(a=3), expected, fixed=lmap(c=9))

    assert dict(result.literals) == {"a": lit(3), "b": lit("hello"), "c": lit(9)}


def test_provided_value_beats_default() -> None:
    result = validate_inputs(lmap(b="bye"), params(b=(STR, "hello")))
    assert result.literals["b"] == lit("bye")


def test_every_bad_input_is_named() -> None:
    expected = params(a=(INT, None), b=(STR, None), c=(INT, 1))

    with pytest.raises(CompileErrors) as raised:
        validate_inputs(lmap(b=5, c="x", extra=1), expected)

    found = {(err.code, err.variable) for err in raised.value.errors}
    assert found == {
        ("MissingInput", "a"),
        ("MismatchingTypes", "b"),
        ("MismatchingTypes", "c"),
        ("UnexpectedInput", "extra"),
    }
    assert "extra" in str(raised.value)


def test_fixed_input_cannot_be_overridden() -> None:
    expected = params(a=(INT, None))
    expected.parameters["f"].var.type.CopyFrom(INT)
    expected.parameters["f"].default.CopyFrom(lit(1))

    with pytest.raises(CompileErrors) as raised:
        validate_inputs(lmap(a=1, f=2), expected, fixed=lmap(f=3))

    assert [(err.code, err.variable) for err in raised.value.errors] == [("FixedInputOverridden", "f")]


def test_unknown_literal_is_rejected() -> None:
    inputs = literals_pb2.LiteralMap(literals={"a": literals_pb2.Literal()})
    with pytest.raises(CompileErrors) as raised:
        validate_inputs(inputs, params(a=(INT, None)))
    assert raised.value.errors[0].code == "InvalidLiteralType"


def test_empty_inputs_against_empty_interface() -> None:
    assert len(validate_inputs(literals_pb2.LiteralMap(), interface_pb2.ParameterMap()).literals) == 0


def test_launch_plan_expected_inputs() -> None:
    workflow_inputs = interface_pb2.VariableMap(
        variables={
            "a": interface_pb2.Variable(type=INT),
            "b": interface_pb2.Variable(type=STR),
            "c": interface_pb2.Variable(type=INT),
        }
    )

    expected = launch_plan_expected_inputs(workflow_inputs, params(b=(STR, "x")), lmap(c=1))

    assert set(expected.parameters) == {"a", "b"}
    assert expected.parameters["a"].required
    assert expected.parameters["b"].default == lit("x")


def test_launch_plan_inputs_must_match_the_workflow() -> None:
    workflow_inputs = interface_pb2.VariableMap(variables={"a": interface_pb2.Variable(type=INT)})

    with pytest.raises(CompileErrors) as raised:
        launch_plan_expected_inputs(workflow_inputs, params(a=(STR, "x"), z=(INT, 1)), lmap(a="wrong", y=2))

    found = {(err.code, err.variable) for err in raised.value.errors}
    assert found == {("MismatchingTypes", "a"), ("UnexpectedInput", "z"), ("UnexpectedInput", "y")}


def test_parameter_map_needs_default_or_required() -> None:
    bad = interface_pb2.ParameterMap()
    bad.parameters["a"].var.type.CopyFrom(INT)
    bad.parameters["b"].var.type.CopyFrom(INT)
    bad.parameters["b"].default.CopyFrom(lit("not an int"))

    with pytest.raises(CompileErrors) as raised:
        validate_parameter_map(bad)

    assert {(err.code, err.variable) for err in raised.value.errors} == {
        ("ValueRequired", "a: a default or required"),
        ("MismatchingTypes", "b"),
    }
    validate_parameter_map(params(a=(INT, None), b=(STR, "ok")))


def test_collection_with_unknown_element_is_an_invalid_literal_type() -> None:
    broken = literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=[lit(1), literals_pb2.Literal()]))
    expected = interface_pb2.ParameterMap()
    expected.parameters["xs"].var.type.collection_type.CopyFrom(INT)
    expected.parameters["xs"].required = True

    with pytest.raises(CompileErrors) as raised:
        validate_inputs(literals_pb2.LiteralMap(literals={"xs": broken}), expected)

    assert [(err.code, err.variable) for err in raised.value.errors] == [("InvalidLiteralType", "xs")]


def _primitives() -> list[Any]:
    """A primitive literal of each kind, an unset one, and a few other scalars."""
    kinds: list[Any] = [
        literals_pb2.Primitive(integer=1),
        literals_pb2.Primitive(float_value=1.5),
        literals_pb2.Primitive(string_value="s"),
        literals_pb2.Primitive(boolean=True),
        literals_pb2.Primitive(),
    ]
    kinds[-1:-1] = [literals_pb2.Primitive(), literals_pb2.Primitive()]
    kinds[-3].datetime.FromSeconds(1)
    kinds[-2].duration.FromSeconds(1)
    literals = [literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=p)) for p in kinds]
    literals.append(literals_pb2.Literal(scalar=literals_pb2.Scalar(none_type=literals_pb2.Void())))
    literals.append(literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=[lit(1)])))
    return literals


def _expected_types() -> list[Any]:
    types = [types_pb2.LiteralType(simple=simple) for simple in types_pb2.SimpleType.values()]
    annotated = types_pb2.LiteralType(simple=types_pb2.SimpleType.INTEGER)
    annotated.annotation.annotations.update({"k": "v"})
    tagged = types_pb2.LiteralType(simple=types_pb2.SimpleType.INTEGER, structure=types_pb2.TypeStructure(tag="t"))
    union = types_pb2.LiteralType(union_type=types_pb2.UnionType(variants=[INT, STR]))
    return [*types, annotated, tagged, union, types_pb2.LiteralType(collection_type=INT)]


@pytest.mark.parametrize("expected", _expected_types(), ids=str)
def test_the_primitive_shortcut_answers_as_the_full_type_check(expected: Any) -> None:
    for literal in _primitives():
        literal_type = literal_type_of(literal)
        full = literal_type_problem(literal_type) is None and is_castable(literal_type, expected)
        if inputs._primitive_of_simple_type(literal, expected):
            assert full, (literal, expected)  # the shortcut only ever says "castable" where the full check does
        errs = ErrorCollector()
        inputs._check_literal("x", literal, expected, errs)
        assert errs.has_errors() != full, (literal, expected)
