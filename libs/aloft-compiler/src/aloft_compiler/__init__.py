"""Flyte workflow compiler shared by admin (registration) and propeller (dynamic workflows)."""

from ._common import END_NODE_ID, START_NODE_ID
from .compiler import (
    LaunchPlanInterface,
    References,
    compile_dynamic_job,
    compile_tasks,
    compile_workflow,
    dynamic_workflow_template,
    required_references,
)
from .errors import CompileError, CompileErrors
from .inputs import launch_plan_expected_inputs, validate_inputs, validate_parameter_map
from .types import is_castable, literal_matches, literal_type_of

__all__ = [
    "END_NODE_ID",
    "START_NODE_ID",
    "CompileError",
    "CompileErrors",
    "LaunchPlanInterface",
    "References",
    "compile_dynamic_job",
    "compile_tasks",
    "compile_workflow",
    "dynamic_workflow_template",
    "is_castable",
    "launch_plan_expected_inputs",
    "literal_matches",
    "literal_type_of",
    "required_references",
    "validate_inputs",
    "validate_parameter_map",
]
