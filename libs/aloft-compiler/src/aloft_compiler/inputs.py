"""Input checks admin runs outside the graph compiler: execution inputs and launch-plan parameter maps.

Behaviour follows flyteadmin/pkg/manager/impl/validation (CheckAndFetchInputsForExecution,
checkAndFetchExpectedInputForLaunchPlan, validateParameterMap), but every problem is collected instead of
returning the first one.
"""

from __future__ import annotations

from typing import Any

from flyteidl.core import interface_pb2, literals_pb2

from . import errors as e
from .types import PRIMITIVE_SIMPLE_TYPES, is_castable, literal_type_of, literal_type_problem, type_str

_INPUTS = "inputs"


def _check_literal(name: str, literal: Any, expected: Any, errs: e.ErrorCollector) -> None:
    if _primitive_of_simple_type(literal, expected):
        return  # the common case, answered without building the literal's type (the same answer as below)
    literal_type = literal_type_of(literal)
    problem = literal_type_problem(literal_type)
    if problem is not None:
        errs.collect(e.invalid_literal_type(_INPUTS, name, problem))
    elif not is_castable(literal_type, expected):
        errs.collect(e.wrong_input_type(name, type_str(expected), type_str(literal_type)))


def _primitive_of_simple_type(literal: Any, expected: Any) -> bool:
    """Whether ``literal`` is a primitive of exactly ``expected``'s simple type (NONE aside), which is castable:
    its type is that simple type with nothing else set, and types castable through ``_trivial_casts`` are equal once
    annotations are cleared."""
    if literal.WhichOneof("value") != "scalar" or expected.WhichOneof("type") != "simple":
        return False
    scalar = literal.scalar
    if scalar.WhichOneof("value") != "primitive":
        return False
    simple = PRIMITIVE_SIMPLE_TYPES.get(scalar.primitive.WhichOneof("value") or "")
    return simple is not None and simple == expected.simple


def validate_inputs(
    inputs: literals_pb2.LiteralMap | None,
    expected: interface_pb2.ParameterMap | None,
    fixed: literals_pb2.LiteralMap | None = None,
) -> literals_pb2.LiteralMap:
    """Complete an execution's inputs: defaults filled, fixed inputs added; unknown, missing or mistyped rejected.

    Raises CompileErrors naming every offending input (admin maps them to INVALID_ARGUMENT).
    """
    errs = e.ErrorCollector()
    parameters = dict(expected.parameters) if expected is not None else {}
    provided = dict(inputs.literals) if inputs is not None else {}
    complete: dict[str, Any] = {}
    for name in sorted(provided):
        if name not in parameters:
            errs.collect(e.unexpected_input(name))
        else:
            complete[name] = provided[name]
    for name in sorted(parameters):
        parameter = parameters[name]
        if name in complete:
            _check_literal(name, complete[name], parameter.var.type, errs)
        elif parameter.required:
            errs.collect(e.missing_input(name))
        elif parameter.HasField("default"):
            complete[name] = parameter.default
    fixed_literals = dict(fixed.literals) if fixed is not None else {}
    for name in sorted(fixed_literals):
        if name in complete and name in provided:
            errs.collect(e.fixed_input_overridden(name))
        complete[name] = fixed_literals[name]
    errs.raise_if_any()
    return literals_pb2.LiteralMap(literals=complete)


def validate_parameter_map(parameters: interface_pb2.ParameterMap | None, field_name: str = "default_inputs") -> None:
    """Flyte's validateParameterMap: each parameter has a typed var, a default or `required`, a castable default."""
    errs = e.ErrorCollector()
    declared = dict(parameters.parameters) if parameters is not None else {}
    for name in sorted(declared):
        parameter = declared[name]
        if not name:
            errs.collect(e.value_required(field_name, "name"))
            continue
        if not parameter.HasField("var") or not parameter.var.HasField("type"):
            errs.collect(e.value_required(field_name, f"{name}.var.type"))
            continue
        if not parameter.HasField("default") and not parameter.HasField("artifact_query") and not parameter.required:
            errs.collect(e.value_required(field_name, f"{name}: a default or required"))
        if parameter.HasField("default"):
            _check_literal(name, parameter.default, parameter.var.type, errs)
    errs.raise_if_any()


def launch_plan_expected_inputs(
    workflow_inputs: interface_pb2.VariableMap | None,
    default_inputs: interface_pb2.ParameterMap | None,
    fixed_inputs: literals_pb2.LiteralMap | None,
) -> interface_pb2.ParameterMap:
    """The ParameterMap a launch plan exposes (Flyte's checkAndFetchExpectedInputForLaunchPlan).

    Defaults must name workflow inputs with castable types; fixed inputs are removed from what callers may pass;
    every other workflow input becomes required.
    """
    errs = e.ErrorCollector()
    variables = dict(workflow_inputs.variables) if workflow_inputs is not None else {}
    defaults = dict(default_inputs.parameters) if default_inputs is not None else {}
    fixed = dict(fixed_inputs.literals) if fixed_inputs is not None else {}
    for name in sorted(defaults):
        if name not in variables:
            errs.collect(e.unexpected_input(name))
        elif not is_castable(defaults[name].var.type, variables[name].type):
            errs.collect(e.wrong_input_type(name, type_str(variables[name].type), type_str(defaults[name].var.type)))
    for name in sorted(fixed):
        if name not in variables:
            errs.collect(e.unexpected_input(name))
        else:
            _check_literal(name, fixed[name], variables[name].type, errs)
    errs.raise_if_any()
    expected: dict[str, Any] = {}
    for name, variable in variables.items():
        if name in defaults:
            expected[name] = defaults[name]
        elif name not in fixed:
            expected[name] = interface_pb2.Parameter(
                var=interface_pb2.Variable(type=variable.type, description=variable.description), required=True
            )
    return interface_pb2.ParameterMap(parameters=expected)
