"""Branch conditions: every comparison operator, conjunctions, operands from literals and branch inputs."""

from __future__ import annotations

import pytest
from flyteidl.core import condition_pb2, literals_pb2

from aloft_propeller.nodes.branch.condition import evaluate
from aloft_propeller.nodes.errors import BranchEvalError

C = condition_pb2.ComparisonExpression


def _int(value: int) -> condition_pb2.Operand:
    return condition_pb2.Operand(primitive=literals_pb2.Primitive(integer=value))


def _var(name: str) -> condition_pb2.Operand:
    return condition_pb2.Operand(var=name)


def _cmp(op: int, left: condition_pb2.Operand, right: condition_pb2.Operand) -> condition_pb2.BooleanExpression:
    return condition_pb2.BooleanExpression(comparison=C(operator=op, left_value=left, right_value=right))  # type: ignore[arg-type]


INPUTS = literals_pb2.LiteralMap(
    literals={
        ".x": literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=4))),
        ".s": literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value="a"))),
    }
)


@pytest.mark.parametrize(
    ("op", "right", "expected"),
    [
        (C.EQ, 4, True),
        (C.EQ, 5, False),
        (C.NEQ, 5, True),
        (C.GT, 3, True),
        (C.GT, 4, False),
        (C.GTE, 4, True),
        (C.LT, 5, True),
        (C.LT, 4, False),
        (C.LTE, 4, True),
    ],
)
def test_comparisons_against_an_input(op: int, right: int, expected: bool) -> None:
    assert evaluate("n0", _cmp(op, _var(".x"), _int(right)), INPUTS) is expected


def test_conjunctions() -> None:
    true = _cmp(C.EQ, _var(".x"), _int(4))
    false = _cmp(C.EQ, _var(".x"), _int(0))
    conj = condition_pb2.ConjunctionExpression
    for op, left, right, expected in [
        (conj.AND, true, true, True),
        (conj.AND, true, false, False),
        (conj.OR, false, true, True),
        (conj.OR, false, false, False),
    ]:
        expr = condition_pb2.BooleanExpression(
            conjunction=conj(operator=op, left_expression=left, right_expression=right)  # type: ignore[arg-type]
        )
        assert evaluate("n0", expr, INPUTS) is expected


def test_scalar_operand_and_strings() -> None:
    scalar = condition_pb2.Operand(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value="a")))
    assert evaluate("n0", _cmp(C.EQ, _var(".s"), scalar), INPUTS)


def test_unknown_variable_and_incomparable_values_are_errors() -> None:
    with pytest.raises(BranchEvalError, match=r"variable \[.nope\]"):
        evaluate("n0", _cmp(C.EQ, _var(".nope"), _int(1)), INPUTS)
    with pytest.raises(BranchEvalError, match="cannot compare"):
        evaluate("n0", _cmp(C.LT, _var(".s"), _int(1)), INPUTS)
