"""Branch conditions: comparison and conjunction expressions over literals and the branch node's inputs."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from flyteidl.core import condition_pb2, literals_pb2
from google.protobuf import json_format

from aloft_propeller.nodes.errors import BranchEvalError

Comparison = condition_pb2.ComparisonExpression
_OPERATORS: dict[int, Callable[[Any, Any], bool]] = {
    Comparison.EQ: operator.eq,
    Comparison.NEQ: operator.ne,
    Comparison.GT: operator.gt,
    Comparison.GTE: operator.ge,
    Comparison.LT: operator.lt,
    Comparison.LTE: operator.le,
}


def evaluate(node_id: str, expr: condition_pb2.BooleanExpression, inputs: literals_pb2.LiteralMap) -> bool:
    if expr.WhichOneof("expr") == "conjunction":
        conj = expr.conjunction
        left = evaluate(node_id, conj.left_expression, inputs)
        if conj.operator == condition_pb2.ConjunctionExpression.AND:
            return left and evaluate(node_id, conj.right_expression, inputs)
        return left or evaluate(node_id, conj.right_expression, inputs)
    if expr.WhichOneof("expr") == "comparison":
        return _compare(node_id, expr.comparison, inputs)
    raise BranchEvalError(node_id, "empty boolean expression")


def _compare(node_id: str, comparison: condition_pb2.ComparisonExpression, inputs: literals_pb2.LiteralMap) -> bool:
    left = _operand_value(node_id, comparison.left_value, inputs)
    right = _operand_value(node_id, comparison.right_value, inputs)
    try:
        return _OPERATORS[comparison.operator](left, right)
    except TypeError as exc:
        raise BranchEvalError(node_id, f"cannot compare {left!r} and {right!r}: {exc}") from exc


def _operand_value(node_id: str, operand: condition_pb2.Operand, inputs: literals_pb2.LiteralMap) -> Any:
    kind = operand.WhichOneof("val")
    if kind == "primitive":
        return _primitive_value(operand.primitive)
    if kind == "scalar":
        return _scalar_value(node_id, operand.scalar)
    if kind == "var":
        if operand.var not in inputs.literals:
            raise BranchEvalError(node_id, f"variable [{operand.var}] is not an input of the branch")
        return _literal_value(node_id, inputs.literals[operand.var])
    raise BranchEvalError(node_id, "operand has no value")


def _literal_value(node_id: str, literal: literals_pb2.Literal) -> Any:
    if literal.WhichOneof("value") != "scalar":
        raise BranchEvalError(node_id, "only scalar values can be compared")
    return _scalar_value(node_id, literal.scalar)


def _scalar_value(node_id: str, scalar: literals_pb2.Scalar) -> Any:
    kind = scalar.WhichOneof("value")
    if kind == "primitive":
        return _primitive_value(scalar.primitive)
    if kind == "none_type":
        return None
    if kind == "union":
        return _literal_value(node_id, scalar.union.value)
    if kind == "generic":
        return json_format.MessageToDict(scalar.generic)
    raise BranchEvalError(node_id, f"cannot compare a {kind} scalar")


def _primitive_value(primitive: literals_pb2.Primitive) -> Any:
    kind = primitive.WhichOneof("value")
    if kind == "datetime":
        return primitive.datetime.ToDatetime()
    if kind == "duration":
        return primitive.duration.ToTimedelta()
    return getattr(primitive, kind) if kind else None
