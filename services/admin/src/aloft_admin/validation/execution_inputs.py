"""Inputs of a new execution checked against its launch plan (flyteadmin's CheckAndFetchInputsForExecution).

The rules (and Flyte's type-castability checks) live in ``aloft_compiler.validate_inputs``: user inputs may only
name the launch plan's expected inputs, never a fixed one, and must be castable to the declared type; inputs left
out take their default; a required one without a value is an error. Every problem is reported at once, as
INVALID_ARGUMENT naming each input.
"""

from __future__ import annotations

from flyteidl.core import interface_pb2, literals_pb2

from aloft_compiler import CompileErrors, validate_inputs
from aloft_service.errors import InvalidArgument


def merge_inputs(
    expected: interface_pb2.ParameterMap, fixed: literals_pb2.LiteralMap, user_inputs: literals_pb2.LiteralMap
) -> literals_pb2.LiteralMap:
    """The execution's full inputs: defaults, overridden by user inputs, plus fixed inputs."""
    try:
        merged: literals_pb2.LiteralMap = validate_inputs(user_inputs, expected, fixed)
    except CompileErrors as exc:
        raise InvalidArgument(f"invalid execution inputs: {exc}") from exc
    return merged
