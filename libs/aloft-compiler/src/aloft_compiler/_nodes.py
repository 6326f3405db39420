"""Node validation: underlying interfaces, branch nodes, gate and array nodes (Flyte's validators/node.go,
interface.go, branch.go)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flyteidl.core import interface_pb2, types_pb2

from . import errors as e
from ._bindings import effective_outputs, validate_bindings, validate_boolean_expression
from ._common import END_NODE_ID, START_NODE_ID, EdgeDirection, NodeEntry, empty_interface, id_key, id_str
from .types import type_str

if TYPE_CHECKING:
    from ._workflow import WorkflowBuilder


def validate_interface(node_id: str, interface: Any, errs: e.ErrorCollector) -> Any:
    """Every variable has a name and a type; missing input/output maps become empty ones."""
    for side in ("inputs", "outputs"):
        if interface.HasField(side):
            for name, variable in getattr(interface, side).variables.items():
                if not name:
                    errs.collect(e.value_required(node_id, "paramName"))
                if not variable.HasField("type"):
                    errs.collect(e.value_required(node_id, f"{name}.type"))
        else:
            getattr(interface, side).SetInParent()
    return interface


def _copy_interface(source: Any) -> Any:
    interface = interface_pb2.TypedInterface()
    interface.CopyFrom(source)
    return interface


def _task_interface(w: WorkflowBuilder, entry: NodeEntry, errs: e.ErrorCollector) -> Any | None:
    task_node = entry.node.task_node
    if not task_node.HasField("reference_id"):
        errs.collect(e.value_required(entry.id, "TaskNode.ReferenceId"))
        return None
    task = w.ctx.tasks.get(id_key(task_node.reference_id))
    if task is None:
        errs.collect(e.task_reference_not_found(entry.id, id_str(task_node.reference_id)))
        return None
    return _copy_interface(task.interface) if task.HasField("interface") else empty_interface()


def _launch_plan_interface(w: WorkflowBuilder, entry: NodeEntry, errs: e.ErrorCollector) -> Any | None:
    ref = entry.node.workflow_node.launchplan_ref
    launch_plan = w.ctx.launch_plans.get(id_key(ref))
    if launch_plan is None:
        errs.collect(e.workflow_reference_not_found(entry.id, id_str(ref)))
        return None
    bound = {b.var for b in entry.node.inputs}
    interface = interface_pb2.TypedInterface()
    interface.inputs.SetInParent()
    # Inputs with a default are only part of the node's interface when the node binds them.
    for name, parameter in launch_plan.expected_inputs().parameters.items():
        if parameter.required or name in bound:
            interface.inputs.variables[name].CopyFrom(parameter.var)
    interface.outputs.CopyFrom(launch_plan.interface.outputs)
    return interface


def _workflow_interface(w: WorkflowBuilder, entry: NodeEntry, errs: e.ErrorCollector) -> Any | None:
    workflow_node = entry.node.workflow_node
    kind = workflow_node.WhichOneof("reference")
    if kind == "launchplan_ref":
        if id_key(workflow_node.launchplan_ref) == id_key(w.template.id):
            return _copy_interface(w.template.interface)
        return _launch_plan_interface(w, entry, errs)
    if kind == "sub_workflow_ref":
        sub = w.ctx.sub_workflows.get(id_key(workflow_node.sub_workflow_ref))
        if sub is None:
            errs.collect(e.workflow_reference_not_found(entry.id, id_str(workflow_node.sub_workflow_ref)))
            return None
        if not sub.template.HasField("interface"):
            errs.collect(e.value_required(entry.id, "WorkflowNode.Template.Interface"))
            return None
        return _copy_interface(sub.template.interface)
    errs.collect(e.workflow_reference_not_found(entry.id, "<no launchplan_ref or sub_workflow_ref>"))
    return None


def _gate_interface(w: WorkflowBuilder, entry: NodeEntry, errs: e.ErrorCollector) -> Any | None:
    gate = entry.node.gate_node
    kind = gate.WhichOneof("condition")
    if kind == "approve":
        # An approve gate passes its bound inputs through unchanged.
        bound = validate_bindings(
            w, entry, entry.node.inputs, interface_pb2.VariableMap(), False, EdgeDirection.UPSTREAM, errs.scope()
        )
        return interface_pb2.TypedInterface(inputs=bound, outputs=bound)
    if kind == "signal":
        signal = gate.signal
        if not signal.HasField("type"):
            errs.collect(e.value_required(entry.id, "GateNode.Signal.Type"))
            return None
        if not signal.output_variable_name:
            errs.collect(e.value_required(entry.id, "GateNode.Signal.OutputVariableName"))
            return None
        interface = empty_interface()
        interface.outputs.variables[signal.output_variable_name].type.CopyFrom(signal.type)
        return interface
    if kind == "sleep":
        return empty_interface()
    errs.collect(e.no_condition_found(entry.id))
    return None


def _array_interface(w: WorkflowBuilder, entry: NodeEntry, errs: e.ErrorCollector) -> Any | None:
    if entry.array_child is None:
        entry.array_child = NodeEntry(node=entry.node.array_node.node)
    if not entry.node.array_node.HasField("node"):
        errs.collect(e.value_required(entry.id, "ArrayNode.Node"))
        return None
    scope = errs.scope()
    interface = resolve_interface(w, entry.array_child, scope)
    if scope.has_errors() or interface is None:
        return None
    if entry.node.array_node.is_original_sub_node_interface.value:
        return _as_list_interface(interface, set(entry.node.array_node.bound_inputs))
    return _copy_interface(interface)


def _as_list_interface(interface: Any, bound_inputs: set[str]) -> Any:
    """The array node's view of a sub-node that kept its original (per-item) interface: every input except the
    bound ones, and every output, become lists.

    Flyte v1.16.8's compiler ignores `is_original_sub_node_interface`, which makes flytekit's map over a launch plan
    fail to compile there; wrapping here is what flytekit means by the flag.
    """
    wrapped = interface_pb2.TypedInterface()
    wrapped.CopyFrom(interface)
    for side, keep in ((wrapped.inputs, bound_inputs), (wrapped.outputs, set())):
        for name, variable in side.variables.items():
            if name not in keep:
                item_type = types_pb2.LiteralType()
                item_type.CopyFrom(variable.type)
                variable.type.Clear()
                variable.type.collection_type.CopyFrom(item_type)
    return wrapped


def resolve_interface(w: WorkflowBuilder, entry: NodeEntry, errs: e.ErrorCollector) -> Any | None:
    """Flyte's ValidateUnderlyingInterface: the interface a node exposes, resolved once and cached on the entry."""
    if entry.resolved:
        return entry.interface
    kind = entry.node.WhichOneof("target")
    scope = errs.scope()
    interface: Any | None
    if kind == "task_node":
        interface = _task_interface(w, entry, scope)
    elif kind == "workflow_node":
        interface = _workflow_interface(w, entry, scope)
    elif kind == "branch_node":
        interface = _branch_interface(w, entry, scope)
    elif kind == "gate_node":
        interface = _gate_interface(w, entry, scope)
    elif kind == "array_node":
        interface = _array_interface(w, entry, scope)
    else:
        scope.collect(e.value_required(entry.id, "Target"))
        interface = None
    if interface is not None:
        validate_interface(entry.id, interface, scope)
    entry.resolved = True
    entry.interface = None if scope.has_errors() else interface
    return entry.interface


# ---- branch nodes ----


def branch_children(entry: NodeEntry) -> list[NodeEntry]:
    """The then/else nodes of a branch, renamed `<branch id>-<node id>` (once) as Flyte does."""
    if entry.branch_children is None:
        if_else = entry.node.branch_node.if_else
        nodes = []
        if if_else.HasField("case") and if_else.case.HasField("then_node"):
            nodes.append(if_else.case.then_node)
        nodes += [block.then_node for block in if_else.other if block.HasField("then_node")]
        if if_else.HasField("else_node"):
            nodes.append(if_else.else_node)
        for node in nodes:
            # Already prefixed means an already compiled template: renaming again would break idempotency.
            if not node.id.startswith(f"{entry.id}-"):
                node.id = f"{entry.id}-{node.id}"
        entry.branch_children = [NodeEntry(node=node) for node in nodes]
    return entry.branch_children


def _branch_interface(w: WorkflowBuilder, entry: NodeEntry, errs: e.ErrorCollector) -> Any | None:
    """Outputs common to every branch (with identical types); inputs are whatever the branch node binds."""
    if_else = entry.node.branch_node.if_else
    if not entry.node.branch_node.HasField("if_else"):
        errs.collect(e.value_required(entry.id, "Branch.IfElse"))
        return None
    if not if_else.HasField("case"):
        errs.collect(e.value_required(entry.id, "Branch.IfElse.Case"))
        return None
    if not if_else.case.HasField("then_node"):
        errs.collect(e.value_required(entry.id, "Branch.IfElse.Case.ThenNode"))
        return None
    for block in if_else.other:
        if not block.HasField("then_node"):
            errs.collect(e.value_required(entry.id, "IfElse.Case.ThenNode"))
    outputs: dict[str, Any] | None = None
    common: set[str] = set()
    for child in branch_children(entry):
        child_scope = errs.scope()
        child_interface = resolve_interface(w, child, child_scope)
        if child_scope.has_errors() or child_interface is None:
            continue
        child_outputs = dict(child_interface.outputs.variables)
        if outputs is None:
            outputs, common = child_outputs, set(child_outputs)
            continue
        common &= set(child_outputs)
        for name in sorted(common):
            if outputs[name].type != child_outputs[name].type:
                errs.collect(
                    e.mismatching_types(
                        child.id, name, type_str(outputs[name].type), type_str(child_outputs[name].type)
                    )
                )
    inputs = validate_bindings(
        w, entry, entry.node.inputs, interface_pb2.VariableMap(), False, EdgeDirection.UPSTREAM, errs.scope()
    )
    if errs.has_errors() or outputs is None:
        return None
    interface = interface_pb2.TypedInterface(inputs=inputs)
    interface.outputs.SetInParent()
    for name in sorted(common):
        interface.outputs.variables[name].CopyFrom(outputs[name])
    return interface


def _validate_branch_node(w: WorkflowBuilder, entry: NodeEntry, require: bool, errs: e.ErrorCollector) -> bool:
    if_else = entry.node.branch_node.if_else
    blocks = []
    if not if_else.HasField("case"):
        errs.collect(e.branch_node_has_no_condition(entry.id))
    else:
        blocks.append(if_else.case)
    blocks += list(if_else.other)
    for block in blocks:
        condition = block.condition if block.HasField("condition") else None
        validate_boolean_expression(entry, condition, require, errs.scope())
        if not block.HasField("then_node"):
            errs.collect(e.branch_node_not_specified(entry.id))
    if not if_else.HasField("else_node") and not if_else.HasField("error"):
        errs.collect(e.branch_node_has_no_default(entry.id))
    for child in branch_children(entry):
        if validate_node(w, child, require, errs.scope()):
            w.add_edges(child, EdgeDirection.UPSTREAM, errs.scope())
    return not errs.has_errors()


def validate_node(w: WorkflowBuilder, entry: NodeEntry, require_condition_types: bool, errs: e.ErrorCollector) -> bool:
    """Flyte's ValidateNode: interface, output aliases, references, and the inner nodes of branches."""
    if not entry.id:
        errs.collect(e.value_required("<node>", "Id"))
    if entry.id in (START_NODE_ID, END_NODE_ID):
        return True
    iface_scope = errs.scope()
    resolve_interface(w, entry, iface_scope)
    if not iface_scope.has_errors():
        effective_outputs(entry, errs.scope())
    upstream = sorted(entry.node.upstream_node_ids)
    del entry.node.upstream_node_ids[:]
    entry.node.upstream_node_ids.extend(upstream)
    kind = entry.node.WhichOneof("target")
    if kind == "branch_node":
        _validate_branch_node(w, entry, require_condition_types, errs.scope())
    elif kind == "workflow_node" and entry.node.workflow_node.WhichOneof("reference") == "sub_workflow_ref":
        ref = entry.node.workflow_node.sub_workflow_ref
        if id_key(ref) in w.ctx.sub_workflows:
            w.ctx.compile_sub_workflow(id_key(ref), entry.id, errs.scope())
        else:
            errs.collect(e.workflow_reference_not_found(entry.id, id_str(ref)))
    elif kind == "task_node" and entry.node.task_node.HasField("reference_id"):
        reference = entry.node.task_node.reference_id
        if id_key(reference) not in w.ctx.tasks:
            errs.collect(e.task_reference_not_found(entry.id, id_str(reference)))
    return not errs.has_errors()
