"""Binding and condition validation (Flyte's validators/bindings.go, condition.go, vars.go)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from flyteidl.core import interface_pb2, types_pb2
from google.protobuf import text_format

from . import errors as e
from ._common import START_NODE_ID, EdgeDirection, NodeEntry
from .types import is_castable, literal_type_of_primitive, literal_type_of_scalar, type_str

if TYPE_CHECKING:
    from ._workflow import WorkflowBuilder

_VAR_PATTERN = re.compile(r"(\[(?P<index>\d+)\]\.)?(?P<var>\w+)")
Resolved = tuple[Any | None, list[str], bool]


def parse_var_name(name: str) -> tuple[str, int | None] | None:
    """Flyte's ParseVarName: `var` or `[i].var`; None when the text is not exactly one such element."""
    matches = list(_VAR_PATTERN.finditer(name))
    if len(matches) != 1:
        return None
    index = matches[0].group("index")
    return matches[0].group("var"), int(index) if index is not None else None


def _short(message: Any) -> str:
    return text_format.MessageToString(message, as_one_line=True)


def effective_outputs(entry: NodeEntry, errs: e.ErrorCollector) -> Any | None:
    """The node's outputs after output aliases are applied (Flyte's validateEffectiveOutputParameters)."""
    aliases: dict[str, str] = {}
    for alias in entry.node.output_aliases:
        if alias.var in aliases:
            errs.collect(e.duplicate_alias(entry.id, alias.alias))
        else:
            aliases[alias.var] = alias.alias
    if entry.interface is None:
        return None
    outputs = interface_pb2.VariableMap()
    for name, variable in entry.interface.outputs.variables.items():
        if name in aliases:
            outputs.variables[aliases.pop(name)].CopyFrom(variable)
        else:
            outputs.variables[name].CopyFrom(variable)
    for alias_name in aliases.values():
        errs.collect(e.parameter_not_bound(entry.id, alias_name))
    return outputs


def _validate_output_var(up: NodeEntry, name: str, errs: e.ErrorCollector) -> Any | None:
    outputs = effective_outputs(up, errs.scope())
    if outputs is None or name not in outputs.variables:
        errs.collect(e.variable_name_not_found(up.id, up.id, name))
        return None
    return outputs.variables[name]


def _resolve_node(w: WorkflowBuilder, consumer: NodeEntry, node_id: str, errs: e.ErrorCollector) -> NodeEntry | None:
    if node_id == "":
        return w.nodes[START_NODE_ID]
    entry = w.nodes.get(node_id)
    if entry is None:
        errs.collect(e.node_reference_not_found(consumer.id, node_id))
    return entry


def _walk_attr_path(
    entry: NodeEntry, promise: Any, source_type: Any, errs: e.ErrorCollector
) -> tuple[Any | None, bool]:
    """The type reached by a promise's attribute path; dataclass fields are looked up, other structs stay generic."""
    for attr in promise.attr_path:
        kind = source_type.WhichOneof("type")
        if kind == "collection_type":
            source_type = source_type.collection_type
        elif kind == "map_value_type":
            source_type = source_type.map_value_type
        elif source_type.HasField("structure") and len(source_type.structure.dataclass_type) > 0:
            key = attr.string_value
            if key not in source_type.structure.dataclass_type:
                errs.collect(e.field_not_found(entry.id, promise.var, type_str(source_type), key))
                return None, False
            source_type = source_type.structure.dataclass_type[key]
    return source_type, True


def _qualified(node: NodeEntry, var: str) -> str:
    """`<entity name>.<var>` as Flyte names variables in type errors."""
    return f"{node.node.metadata.name}.{var}" if node.node.HasField("metadata") else var


def _mismatch(entry: NodeEntry, param: str, up: NodeEntry, promise: Any, found: Any, expected: Any) -> e.CompileError:
    return e.mismatching_variables(
        entry.id, param, _qualified(up, promise.var), type_str(found), _qualified(entry, param), type_str(expected)
    )


def _validate_promise(
    w: WorkflowBuilder, entry: NodeEntry, param: str, promise: Any, expected: Any, errs: e.ErrorCollector, check: bool
) -> Resolved:
    """A promise names an existing node's output; the (indexed, attribute-accessed) output type must fit."""
    failed: Resolved = (None, [], False)
    up = _resolve_node(w, entry, promise.node_id, errs.scope())
    if up is None:
        errs.collect(e.parameter_not_bound(entry.id, param))
        return failed
    parsed = parse_var_name(promise.var)
    if parsed is None:
        errs.collect(e.syntax_error(entry.id, promise.var))
        return failed
    name, index = parsed
    variable = _validate_output_var(up, name, errs.scope())
    if variable is None:
        errs.collect(e.parameter_not_bound(entry.id, param))
        return failed
    source_type = variable.type
    if index is not None:
        if variable.type.WhichOneof("type") == "collection_type":
            source_type = variable.type.collection_type
        else:
            errs.collect(_mismatch(entry, param, up, promise, variable.type, expected))
    source_type, found = _walk_attr_path(entry, promise, source_type, errs)
    if not found:
        return failed
    if check and not is_castable(source_type, expected):
        errs.collect(_mismatch(entry, param, up, promise, source_type, expected))
        return failed
    promise.node_id = up.id
    # Flyte resolves to the whole output's type (not the attribute's) and reports success even after an index error.
    return variable.type, [up.id], True


def _validate_scalar(
    entry: NodeEntry, param: str, scalar: Any, expected: Any, errs: e.ErrorCollector, check: bool
) -> Resolved:
    literal_type = literal_type_of_scalar(scalar)
    if literal_type is None:
        errs.collect(e.unrecognized_value(entry.id, param, str(scalar.WhichOneof("value"))))
    elif check and not is_castable(literal_type, expected):
        errs.collect(e.mismatching_types(entry.id, param, type_str(literal_type), type_str(expected)))
    if expected.WhichOneof("type") == "enum_type":
        value = scalar.primitive.string_value
        allowed = list(expected.enum_type.values)
        if value not in allowed:
            errs.collect(e.illegal_enum_value(entry.id, param, value, allowed))
    return literal_type, [], not errs.has_errors()


def _validate_union_container(
    w: WorkflowBuilder, entry: NodeEntry, param: str, binding: Any, expected: Any, errs: e.ErrorCollector, check: bool
) -> Resolved:
    """A collection or map bound to a union: exactly one variant must accept it."""
    match: tuple[Any, Resolved] | None = None
    for variant in expected.union_type.variants:
        attempt = validate_binding(w, entry, param, binding, variant, e.ErrorCollector(), check)
        if attempt[2]:
            if match is not None:
                errs.collect(
                    e.ambiguous_binding_union_value(
                        entry.id, param, type_str(expected), _short(binding), type_str(match[0]), type_str(variant)
                    )
                )
                return None, [], not errs.has_errors()
            match = (variant, attempt)
    if match is not None:
        # Record the edges the matching variant found; the trial collectors above were throwaway.
        return match[1]
    errs.collect(e.incompatible_binding_union_value(entry.id, param, type_str(expected), _short(binding)))
    return None, [], not errs.has_errors()


def _validate_container(
    w: WorkflowBuilder,
    entry: NodeEntry,
    param: str,
    items: list[Any],
    element_type: Any,
    wrap: str,
    errs: e.ErrorCollector,
    check: bool,
) -> Resolved:
    upstream: list[str] = []
    sub_type: Any = None
    for item in items:
        resolved, ids, ok = validate_binding(w, entry, param, item, element_type, errs.scope(), check)
        if ok:
            upstream.extend(ids)
            sub_type = resolved
    result = types_pb2.LiteralType()
    if sub_type is not None:
        getattr(result, wrap).CopyFrom(sub_type)
    return result, upstream, not errs.has_errors()


def validate_binding(
    w: WorkflowBuilder, entry: NodeEntry, param: str, binding: Any, expected: Any, errs: e.ErrorCollector, check: bool
) -> Resolved:
    """Check one binding against the expected type; returns (resolved type, upstream node ids, ok)."""
    kind = binding.WhichOneof("value")
    if kind not in ("scalar", "promise") and expected.WhichOneof("type") == "union_type":
        return _validate_union_container(w, entry, param, binding, expected, errs, check)
    if kind == "collection":
        if expected.WhichOneof("type") == "collection_type":
            items = list(binding.collection.bindings)
            return _validate_container(w, entry, param, items, expected.collection_type, "collection_type", errs, check)
        errs.collect(e.mismatching_bindings(entry.id, param, type_str(expected), _short(binding.collection)))
    elif kind == "map":
        if expected.WhichOneof("type") == "map_value_type":
            items = list(binding.map.bindings.values())
            return _validate_container(w, entry, param, items, expected.map_value_type, "map_value_type", errs, check)
        errs.collect(e.mismatching_bindings(entry.id, param, type_str(expected), _short(binding.map)))
    elif kind == "promise":
        return _validate_promise(w, entry, param, binding.promise, expected, errs, check)
    elif kind == "scalar":
        return _validate_scalar(entry, param, binding.scalar, expected, errs, check)
    else:
        errs.collect(e.mismatching_bindings(entry.id, param, type_str(expected), str(kind or "")))
    return None, [], not errs.has_errors()


def is_optional(variable: Any) -> bool:
    """A union with a `none` variant may be left unbound."""
    if variable.type.WhichOneof("type") != "union_type":
        return False
    return any(
        v.WhichOneof("type") == "simple" and v.simple == types_pb2.SimpleType.NONE
        for v in variable.type.union_type.variants
    )


def validate_bindings(
    w: WorkflowBuilder,
    entry: NodeEntry,
    bindings: Any,
    params: Any | None,
    check: bool,
    direction: EdgeDirection,
    errs: e.ErrorCollector,
) -> Any:
    """Flyte's ValidateBindings: each binding once, each type castable, every non-optional param bound.

    Returns the VariableMap of the bound inputs with their resolved types; adds the edges the bindings imply.
    """
    resolved = interface_pb2.VariableMap()
    provided: set[str] = set()
    variables = params.variables if params is not None else {}
    for binding in bindings:
        var = binding.var
        param = variables.get(var)
        if param is None and check:
            errs.collect(e.variable_name_not_found(entry.id, entry.id, var))
        elif not binding.HasField("binding"):
            errs.collect(e.value_required(entry.id, "Binding"))
        elif var in provided:
            errs.collect(e.parameter_bound_more_than_once(entry.id, var))
        else:
            expected = param.type if param is not None else types_pb2.LiteralType(simple=types_pb2.SimpleType.NONE)
            provided.add(var)
            resolved_type, upstream, ok = validate_binding(
                w, entry, var, binding.binding, expected, errs.scope(), check
            )
            if ok:
                for up in upstream:
                    w.add_edge(up, entry.id, direction)
                variable = resolved.variables[var]
                if resolved_type is not None:
                    variable.type.CopyFrom(resolved_type)
    for name in sorted(variables):
        if name not in provided and not is_optional(variables[name]):
            errs.collect(e.parameter_not_bound(entry.id, name))
    return resolved


# ---- branch conditions ----


def _validate_operand(entry: NodeEntry, side: str, operand: Any, require: bool, errs: e.ErrorCollector) -> Any | None:
    if operand is None:
        errs.collect(e.value_required(entry.id, side))
        return None
    kind = operand.WhichOneof("val")
    if kind == "primitive":
        return literal_type_of_primitive(operand.primitive)
    if kind == "var" and operand.var:
        if entry.interface is None:
            errs.collect(e.value_required(entry.id, operand.var))
            return None
        inputs = entry.interface.inputs.variables
        if operand.var in inputs:
            return inputs[operand.var].type
        if not require and any(b.var == operand.var for b in entry.node.inputs):
            return None
        errs.collect(e.variable_name_not_found(entry.id, entry.id, operand.var))
        return None
    # Flyte v1.16.8 neither compiles nor evaluates `scalar` operands (flytekit's `is_none()` emits one).
    errs.collect(e.value_required(entry.id, f"{side}.Val"))
    return None


def validate_boolean_expression(entry: NodeEntry, expr: Any | None, require: bool, errs: e.ErrorCollector) -> bool:
    """Comparisons need operands of the same type; conjunctions recurse."""
    if expr is None:
        errs.collect(e.branch_node_has_no_condition(entry.id))
    elif expr.HasField("comparison"):
        comparison = expr.comparison
        right_scope, left_scope = errs.scope(), errs.scope()
        right_operand = comparison.right_value if comparison.HasField("right_value") else None
        left_operand = comparison.left_value if comparison.HasField("left_value") else None
        right = _validate_operand(entry, "RightValue", right_operand, require, right_scope)
        left = _validate_operand(entry, "LeftValue", left_operand, require, left_scope)
        both_known = right is not None and left is not None
        if both_known and not right_scope.has_errors() and not left_scope.has_errors() and right != left:
            errs.collect(e.mismatching_types(entry.id, "RightValue", type_str(right), type_str(left)))
    elif expr.HasField("conjunction"):
        validate_boolean_expression(entry, expr.conjunction.left_expression, require, errs.scope())
        validate_boolean_expression(entry, expr.conjunction.right_expression, require, errs.scope())
    else:
        errs.collect(e.value_required(entry.id, "Expr"))
    return not errs.has_errors()
