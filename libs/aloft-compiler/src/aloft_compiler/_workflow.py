"""Workflow graph building: start/end nodes, edges, connections and reachability (Flyte's workflow_compiler.go)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flyteidl.core import compiler_pb2, interface_pb2, workflow_pb2

from . import errors as e
from ._bindings import validate_bindings
from ._common import END_NODE_ID, START_NODE_ID, EdgeDirection, NodeEntry, id_str
from ._nodes import validate_interface, validate_node


@dataclass
class CompileContext:
    """Everything one compile can refer to, keyed by `id_key`; sub-workflows are compiled in place, once."""

    tasks: dict[str, Any]
    launch_plans: dict[str, Any]
    sub_workflows: dict[str, Any]  # id key -> CompiledWorkflow whose template gets compiled in place
    _compiled: dict[str, bool] = field(default_factory=dict)
    _in_progress: set[str] = field(default_factory=set)

    def compile_sub_workflow(self, key: str, node_id: str, errs: e.ErrorCollector) -> bool:
        """Compile a referenced sub-workflow once; one that (indirectly) contains itself is a cycle."""
        if key in self._in_progress:
            template_id = id_str(self.sub_workflows[key].template.id)
            errs.collect(e.cycle_detected(node_id, f"{node_id}>{template_id} (a sub-workflow contains itself)"))
            return False
        if key not in self._compiled:
            self._in_progress.add(key)
            try:
                self._compiled[key] = compile_into(self, self.sub_workflows[key], errs)
            finally:
                self._in_progress.discard(key)
        return self._compiled[key]


class WorkflowBuilder:
    """Graph state of one workflow under compilation."""

    def __init__(self, ctx: CompileContext, compiled: Any) -> None:
        self.ctx = ctx
        self.compiled = compiled
        self.nodes: dict[str, NodeEntry] = {}
        self.upstream: dict[str, set[str]] = {}
        self.downstream: dict[str, set[str]] = {}

    @property
    def template(self) -> Any:
        return self.compiled.template

    def add_edge(self, provider: str, dependent: str, direction: EdgeDirection) -> None:
        provider = provider or START_NODE_ID
        if direction is not EdgeDirection.UPSTREAM:
            self.downstream.setdefault(provider, set()).add(dependent)
        if direction is not EdgeDirection.DOWNSTREAM:
            self.upstream.setdefault(dependent, set()).add(provider)

    def write_connections(self) -> None:
        """Publish the adjacency sets as the compiled workflow's ConnectionSet (sorted id lists)."""
        connections = self.compiled.connections
        connections.SetInParent()
        for dependent, providers in self.upstream.items():
            connections.upstream[dependent].ids.extend(sorted(providers))
        for provider, dependents in self.downstream.items():
            connections.downstream[provider].ids.extend(sorted(dependents))

    def add_edges(self, entry: NodeEntry, direction: EdgeDirection, errs: e.ErrorCollector) -> None:
        """Edges from explicit upstream ids and from the node's bindings (checked against its interface)."""
        if entry.interface is None:
            return
        if direction is not EdgeDirection.UPSTREAM:
            for up in entry.node.upstream_node_ids:
                if up and up not in self.nodes:
                    # Flyte would only report the node as unreachable; naming the bad reference is clearer.
                    errs.collect(e.node_reference_not_found(entry.id, up))
                self.add_edge(up, entry.id, EdgeDirection.BIDIRECTIONAL)
        validate_bindings(self, entry, entry.node.inputs, entry.interface.inputs, True, direction, errs.scope())
        _record_binding_upstreams(entry)


def _record_binding_upstreams(entry: NodeEntry) -> None:
    """Nodes feeding a binding are upstream of it: keep `upstream_node_ids` complete and sorted."""
    ids = set(entry.node.upstream_node_ids)
    for binding in entry.node.inputs:
        ids.update(_promise_nodes(binding.binding))
    ids.discard(START_NODE_ID)
    ids.discard("")
    if entry.id in (START_NODE_ID, END_NODE_ID):
        return
    del entry.node.upstream_node_ids[:]
    entry.node.upstream_node_ids.extend(sorted(ids))


def _promise_nodes(binding: Any) -> list[str]:
    kind = binding.WhichOneof("value")
    if kind == "promise":
        return [binding.promise.node_id]
    if kind == "collection":
        return [n for item in binding.collection.bindings for n in _promise_nodes(item)]
    if kind == "map":
        return [n for item in binding.map.bindings.values() for n in _promise_nodes(item)]
    return []


def _find_cycle(start: str, neighbours: Callable[[str], set[str]]) -> tuple[list[str] | None, set[str]]:
    """Depth-first search from start: (cycle path or None, visited nodes). Iterative to survive deep graphs."""
    visited: set[str] = set()
    on_path: list[str] = []
    on_path_set: set[str] = set()
    # Each frame holds the neighbours still to visit, reversed so pop() takes them in sorted order.
    stack: list[tuple[str, list[str]]] = [(start, sorted(neighbours(start), reverse=True))]
    visited.add(start)
    on_path.append(start)
    on_path_set.add(start)
    while stack:
        node, pending = stack[-1]
        if not pending:
            stack.pop()
            on_path.pop()
            on_path_set.discard(node)
            continue
        nxt = pending.pop()
        if nxt in on_path_set:
            return [*on_path[on_path.index(nxt) :], nxt], visited
        if nxt in visited:
            continue
        visited.add(nxt)
        on_path.append(nxt)
        on_path_set.add(nxt)
        stack.append((nxt, sorted(neighbours(nxt), reverse=True)))
    return None, visited


def _validate_reachable(w: WorkflowBuilder, errs: e.ErrorCollector) -> None:
    cycle, visited = _find_cycle(START_NODE_ID, lambda n: w.downstream.get(n, set()))
    if cycle is not None:
        errs.collect(e.cycle_detected(START_NODE_ID, ">".join(cycle)))
        return
    unreachable = set(w.nodes) - visited - {END_NODE_ID}
    if unreachable:
        errs.collect(e.unreachable_nodes(START_NODE_ID, ",".join(sorted(unreachable))))


def _add_global_nodes(w: WorkflowBuilder) -> None:
    template = w.template
    start = workflow_pb2.Node(id=START_NODE_ID)
    end = workflow_pb2.Node(id=END_NODE_ID, inputs=list(template.outputs))
    template.nodes.add().CopyFrom(start)
    template.nodes.add().CopyFrom(end)
    w.nodes[START_NODE_ID] = NodeEntry(
        node=template.nodes[0],
        interface=interface_pb2.TypedInterface(inputs=interface_pb2.VariableMap(), outputs=template.interface.inputs),
        resolved=True,
    )
    w.nodes[END_NODE_ID] = NodeEntry(
        node=template.nodes[1],
        interface=interface_pb2.TypedInterface(inputs=template.interface.outputs, outputs=interface_pb2.VariableMap()),
        resolved=True,
    )


def _add_user_nodes(w: WorkflowBuilder, originals: list[Any], errs: e.ErrorCollector) -> list[str]:
    top_level: list[str] = []
    for original in originals:
        if original.id in (START_NODE_ID, END_NODE_ID):
            continue  # an already compiled template: Flyte rebuilds these two, so recompiling is idempotent
        if original.id in w.nodes:
            errs.collect(e.duplicate_node_id(original.id))
            continue
        node = w.template.nodes.add()
        node.CopyFrom(original)
        entry = NodeEntry(node=node)
        w.nodes[entry.id] = entry
        top_level.append(entry.id)
        validate_node(w, entry, False, errs.scope())
    return top_level


def _connect_dangling(w: WorkflowBuilder, top_level: list[str]) -> None:
    """Top-level nodes without an upstream hang off start-node; those without a downstream feed end-node."""
    for node_id in sorted(top_level):
        if node_id not in w.upstream:
            w.add_edge(START_NODE_ID, node_id, EdgeDirection.BIDIRECTIONAL)
        if node_id not in w.downstream:
            w.add_edge(node_id, END_NODE_ID, EdgeDirection.BIDIRECTIONAL)


def _validate_failure_node(w: WorkflowBuilder, errs: e.ErrorCollector) -> None:
    template = w.template
    if not template.HasField("failure_node"):
        return
    entry = NodeEntry(node=template.failure_node)
    validate_node(w, entry, False, errs.scope())
    w.add_edges(entry, EdgeDirection.UPSTREAM, errs.scope())


def compile_into(ctx: CompileContext, compiled: Any, errs: e.ErrorCollector) -> bool:
    """Compile `compiled.template` in place: adds start/end nodes, fills connections; True when error-free."""
    scope = errs.scope()
    template = compiled.template
    if len(template.nodes) == 0:
        scope.collect(e.no_nodes_found(id_str(template.id)))
        return False
    w = WorkflowBuilder(ctx, compiled)
    validate_interface(START_NODE_ID, template.interface, scope.scope())
    originals = [_detached(node) for node in template.nodes]
    del template.nodes[:]
    compiled.ClearField("connections")
    _add_global_nodes(w)
    top_level = _add_user_nodes(w, originals, scope)
    for node_id in sorted(w.nodes):
        if node_id != START_NODE_ID:
            w.add_edges(w.nodes[node_id], EdgeDirection.BIDIRECTIONAL, scope.scope())
    _validate_failure_node(w, scope)
    _connect_dangling(w, top_level)
    _validate_reachable(w, scope.scope())
    w.write_connections()
    # Flyte shares the output bindings with end-node, so promise ids it fills in show up in both.
    del template.outputs[:]
    template.outputs.extend(w.nodes[END_NODE_ID].node.inputs)
    return not scope.has_errors()


def _detached(node: Any) -> Any:
    copy = workflow_pb2.Node()
    copy.CopyFrom(node)
    return copy


def new_compiled_workflow(template: Any) -> Any:
    compiled = compiler_pb2.CompiledWorkflow()
    compiled.template.CopyFrom(template)
    return compiled
