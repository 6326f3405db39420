"""Compile errors: one code and constructor per failure, collected (never fail-first), each naming its node.

Codes and wording follow flytepropeller/pkg/compiler/errors/compiler_errors.go so users see Flyte's vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CYCLE_DETECTED = "CycleDetected"
BRANCH_NODE_ID_NOT_FOUND = "BranchNodeIdNotFound"
BRANCH_NODE_HAS_NO_CONDITION = "BranchNodeHasNoCondition"
BRANCH_NODE_HAS_NO_DEFAULT = "BranchNodeHasNoDefault"
VALUE_REQUIRED = "ValueRequired"
INVALID_VALUE = "InvalidValue"
NODE_REFERENCE_NOT_FOUND = "NodeReferenceNotFound"
TASK_REFERENCE_NOT_FOUND = "TaskReferenceNotFound"
WORKFLOW_REFERENCE_NOT_FOUND = "WorkflowReferenceNotFound"
VARIABLE_NAME_NOT_FOUND = "VariableNameNotFound"
DUPLICATE_ALIAS = "DuplicateAlias"
DUPLICATE_NODE_ID = "DuplicateId"
MISMATCHING_TYPES = "MismatchingTypes"
MISMATCHING_BINDINGS = "MismatchingBindings"
PARAMETER_BOUND_MORE_THAN_ONCE = "ParameterBoundMoreThanOnce"
PARAMETER_NOT_BOUND = "ParameterNotBound"
UNREACHABLE_NODES = "UnreachableNodes"
UNRECOGNIZED_VALUE = "UnrecognizedValue"
SYNTAX_ERROR = "SyntaxError"
NO_NODES_FOUND = "NoNodesFound"
ILLEGAL_ENUM_VALUE = "IllegalEnumValue"
AMBIGUOUS_BINDING_UNION_VALUE = "AmbiguousBindingUnionValue"
INCOMPATIBLE_BINDING_UNION_VALUE = "IncompatibleBindingUnionValue"
NO_CONDITION_FOUND = "NoConditionFound"
FIELD_NOT_FOUND = "FieldNotFound"
INVALID_LITERAL_TYPE = "InvalidLiteralType"
# Input validation (admin's CheckAndFetchInputsForExecution); not compiler codes in Flyte.
UNEXPECTED_INPUT = "UnexpectedInput"
MISSING_INPUT = "MissingInput"
FIXED_INPUT_OVERRIDDEN = "FixedInputOverridden"


@dataclass(frozen=True)
class CompileError:
    code: str
    node_id: str
    variable: str
    message: str

    def __str__(self) -> str:
        """Flyte's rendering; the node is already named by `Node Id`, so the message's own prefix is dropped."""
        description = self.message.removeprefix(_node_prefix(self.node_id))
        return f"Code: {self.code}, Node Id: {self.node_id}, Description: {description}"


def _node_prefix(node_id: str) -> str:
    return f"Node [{node_id}]: "


class CompileErrors(Exception):
    """Every error found in one compile; str() lists them all, one per line."""

    def __init__(self, errors: list[CompileError]) -> None:
        self.errors = list(errors)
        super().__init__(self._render())

    def _render(self) -> str:
        lines = [f"Collected Errors: {len(self.errors)}"]
        lines += [f"\tError {i}: {err}" for i, err in enumerate(self.errors)]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self._render()

    def codes(self) -> list[str]:
        return [err.code for err in self.errors]


@dataclass
class ErrorCollector:
    """Flyte's CompileErrors: a deduplicating root set plus scopes that know whether *they* saw an error."""

    _root: ErrorCollector | None = None
    _errors: dict[CompileError, None] = field(default_factory=dict)
    _count: int = 0

    def scope(self) -> ErrorCollector:
        return ErrorCollector(_root=self)

    def collect(self, error: CompileError) -> None:
        self._count += 1
        if self._root is not None:
            self._root.collect(error)
        else:
            self._errors.setdefault(error, None)

    def has_errors(self) -> bool:
        return self._count > 0

    @property
    def errors(self) -> list[CompileError]:
        return list(self._errors)

    def raise_if_any(self) -> None:
        if self._errors:
            raise CompileErrors(self.errors)


def _error(code: str, node_id: str, variable: str, description: str) -> CompileError:
    return CompileError(code=code, node_id=node_id, variable=variable, message=_node_prefix(node_id) + description)


def cycle_detected(node_id: str, cycle: str) -> CompileError:
    return _error(CYCLE_DETECTED, node_id, "", f"A cycle has been detected while traversing the Workflow [{cycle}].")


def branch_node_not_specified(node_id: str) -> CompileError:
    return _error(BRANCH_NODE_ID_NOT_FOUND, node_id, "", "BranchNode not assigned")


def branch_node_has_no_condition(node_id: str) -> CompileError:
    return _error(
        BRANCH_NODE_HAS_NO_CONDITION, node_id, "", "One of the branches on the node doesn't have a condition."
    )


def branch_node_has_no_default(node_id: str) -> CompileError:
    return _error(
        BRANCH_NODE_HAS_NO_DEFAULT, node_id, "", "Branch Node must have either the else case set or a default error."
    )


def value_required(node_id: str, name: str) -> CompileError:
    return _error(VALUE_REQUIRED, node_id, name, f"Value required [{name}].")


def invalid_value(node_id: str, name: str) -> CompileError:
    return _error(INVALID_VALUE, node_id, name, f"Invalid value [{name}].")


def parameter_not_bound(node_id: str, name: str) -> CompileError:
    return _error(PARAMETER_NOT_BOUND, node_id, name, f"Parameter not bound [{name}].")


def node_reference_not_found(node_id: str, reference_id: str) -> CompileError:
    return _error(NODE_REFERENCE_NOT_FOUND, node_id, "", f"Referenced node [{reference_id}] not found.")


def workflow_reference_not_found(node_id: str, reference_id: str) -> CompileError:
    return _error(WORKFLOW_REFERENCE_NOT_FOUND, node_id, "", f"Referenced Workflow [{reference_id}] not found.")


def task_reference_not_found(node_id: str, reference_id: str) -> CompileError:
    return _error(TASK_REFERENCE_NOT_FOUND, node_id, "", f"Referenced Task [{reference_id}] not found.")


def variable_name_not_found(node_id: str, reference_id: str, variable: str) -> CompileError:
    return _error(
        VARIABLE_NAME_NOT_FOUND, node_id, variable, f"Variable [{variable}] not found on node [{reference_id}]."
    )


def parameter_bound_more_than_once(node_id: str, name: str) -> CompileError:
    return _error(PARAMETER_BOUND_MORE_THAN_ONCE, node_id, name, f"Input [{name}] is bound more than once.")


def duplicate_alias(node_id: str, alias: str) -> CompileError:
    return _error(
        DUPLICATE_ALIAS,
        node_id,
        alias,
        f"Duplicate alias [{alias}] found. An output alias can only be used once in the Workflow.",
    )


def duplicate_node_id(node_id: str) -> CompileError:
    return _error(DUPLICATE_NODE_ID, node_id, "", "Trying to insert two nodes with the same id.")


def mismatching_types(node_id: str, variable: str, from_type: str, to_type: str) -> CompileError:
    return _error(
        MISMATCHING_TYPES,
        node_id,
        variable,
        f"Variable [{variable}] (type [{from_type}]) doesn't match expected type [{to_type}].",
    )


def mismatching_variables(
    node_id: str, input_var: str, from_var: str, from_type: str, to_var: str, to_type: str
) -> CompileError:
    return _error(
        MISMATCHING_TYPES,
        node_id,
        input_var,
        f"The output variable '{from_var}' has type [{from_type}], but it's assigned to the input variable "
        f"'{to_var}' which has type type [{to_type}].",
    )


def mismatching_bindings(node_id: str, name: str, expected: str, received: str) -> CompileError:
    return _error(
        MISMATCHING_BINDINGS,
        node_id,
        name,
        f"Input [{name}] on node [{node_id}] expects bindings of type [{expected}].  Received [{received}]",
    )


def field_not_found(node_id: str, variable: str, from_type: str, key: str) -> CompileError:
    return _error(
        FIELD_NOT_FOUND, node_id, variable, f"Variable [{variable}] (type [{from_type}]) doesn't have field [{key}]."
    )


def illegal_enum_value(node_id: str, name: str, received: str, expected: list[str]) -> CompileError:
    return _error(
        ILLEGAL_ENUM_VALUE,
        node_id,
        name,
        f"Input [{name}] on node [{node_id}] is an Enum and expects value to be one of {expected}.  "
        f"Received [{received}]",
    )


def unreachable_nodes(node_id: str, nodes: str) -> CompileError:
    return _error(UNREACHABLE_NODES, node_id, "", f"The Workflow contain unreachable nodes [{nodes}].")


def unrecognized_value(node_id: str, name: str, value: str) -> CompileError:
    return _error(UNRECOGNIZED_VALUE, node_id, name, f"Unrecognized value [{value}].")


def syntax_error(node_id: str, element: str) -> CompileError:
    return _error(SYNTAX_ERROR, node_id, element, f"Failed to parse element [{element}].")


def no_nodes_found(workflow_id: str) -> CompileError:
    return _error(NO_NODES_FOUND, workflow_id, "", f"Can't find any nodes in workflow [{workflow_id}].")


def ambiguous_binding_union_value(
    node_id: str, name: str, expected: str, binding: str, match1: str, match2: str
) -> CompileError:
    return _error(
        AMBIGUOUS_BINDING_UNION_VALUE,
        node_id,
        name,
        f"Input [{name}] on node [{node_id}] expects bindings of union type [{expected}].  Received [{binding}] "
        f"which is ambiguous as both variants [{match1}] and [{match2}] match.",
    )


def incompatible_binding_union_value(node_id: str, name: str, expected: str, binding: str) -> CompileError:
    return _error(
        INCOMPATIBLE_BINDING_UNION_VALUE,
        node_id,
        name,
        f"Input [{name}] on node [{node_id}] expects bindings of union type [{expected}].  Received [{binding}] "
        "which does not match any of the variants.",
    )


def no_condition_found(node_id: str) -> CompileError:
    return _error(NO_CONDITION_FOUND, node_id, "", f"Can't find any condition in gate node [{node_id}].")


def invalid_literal_type(node_id: str, name: str, reason: str) -> CompileError:
    return _error(
        INVALID_LITERAL_TYPE, node_id, name, f"Failed to validate literal type for [{name}] with err: {reason}"
    )


def unexpected_input(name: str) -> CompileError:
    return _error(UNEXPECTED_INPUT, "inputs", name, f"invalid input {name}: not declared by the interface.")


def missing_input(name: str) -> CompileError:
    return _error(MISSING_INPUT, "inputs", name, f"expected input {name} missing: it is required and has no default.")


def fixed_input_overridden(name: str) -> CompileError:
    return _error(FIXED_INPUT_OVERRIDDEN, "inputs", name, f"fixed input {name} cannot be overridden.")


def wrong_input_type(name: str, expected: str, received: str) -> CompileError:
    return _error(
        MISMATCHING_TYPES, "inputs", name, f"invalid {name} input wrong type. Expected {expected}, but got {received}"
    )
