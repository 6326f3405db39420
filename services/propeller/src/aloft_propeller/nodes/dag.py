"""The DAG of one workflow level: each node's upstream ids (explicit, from promises, from compiled connections,
and from the children of branches) and a topological order. Start and end nodes are implicit.

``dag_graph`` computes it once per compiled workflow (rounds used to re-derive it, walking every binding, each
time): the order, each node's upstream ids and its downstream positions, which the incremental evaluation
(``nodes/frontier.py``) follows when a node finishes."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from flyteidl.core import compiler_pb2, literals_pb2, workflow_pb2

from aloft_propeller.nodes.base import Scope
from aloft_propeller.nodes.context import END_NODE, START_NODE
from aloft_propeller.nodes.errors import NodeError


def _promise_ids(bindings: Iterable[literals_pb2.Binding]) -> set[str]:
    found: set[str] = set()

    def walk(data: literals_pb2.BindingData) -> None:
        kind = data.WhichOneof("value")
        if kind == "promise":
            found.add(data.promise.node_id)
        elif kind == "collection":
            for item in data.collection.bindings:
                walk(item)
        elif kind == "map":
            for item in data.map.bindings.values():
                walk(item)

    for binding in bindings:
        walk(binding.binding)
    return found


def _branch_children(node: workflow_pb2.Node) -> list[workflow_pb2.Node]:
    if node.WhichOneof("target") != "branch_node":
        return []
    block = node.branch_node.if_else
    children = [block.case.then_node, *(case.then_node for case in block.other)]
    if block.HasField("else_node"):
        children.append(block.else_node)
    return children


def upstream_ids(scope: Scope, node: workflow_pb2.Node) -> set[str]:
    ids = set(node.upstream_node_ids) | _promise_ids(node.inputs)
    if node.id in scope.workflow.connections.upstream:
        ids |= set(scope.workflow.connections.upstream[node.id].ids)
    for child in _branch_children(node):
        ids |= upstream_ids(scope, child)
    return ids - {START_NODE, END_NODE, node.id}


def executable_nodes(scope: Scope) -> list[workflow_pb2.Node]:
    """The scope's nodes in topological order (start/end nodes are implicit)."""
    nodes = {n.id: n for n in scope.workflow.template.nodes if n.id not in (START_NODE, END_NODE)}
    pending = {node_id: upstream_ids(scope, node) & nodes.keys() for node_id, node in nodes.items()}
    ordered: list[workflow_pb2.Node] = []
    while pending:
        ready = sorted(node_id for node_id, deps in pending.items() if not deps)
        if not ready:
            raise NodeError(scope.parent_path or "workflow", f"cycle between nodes {sorted(pending)}")
        for node_id in ready:
            ordered.append(nodes[node_id])
            del pending[node_id]
        for deps in pending.values():
            deps.difference_update(ready)
    return ordered


@dataclass(frozen=True)
class DagGraph:
    nodes: tuple[workflow_pb2.Node, ...]  # topological order (``executable_nodes``)
    ids: tuple[str, ...]  # each node's id
    index: dict[str, int]  # node id → position in ``nodes``
    upstream: tuple[frozenset[str], ...]  # ``upstream_ids`` of each node
    downstream: tuple[tuple[int, ...], ...]  # positions of the nodes that list each node upstream


def build_graph(scope: Scope) -> DagGraph:
    nodes = executable_nodes(scope)
    index = {node.id: position for position, node in enumerate(nodes)}
    upstream = tuple(frozenset(upstream_ids(scope, node)) for node in nodes)
    downstream: list[list[int]] = [[] for _ in nodes]
    for position, ids in enumerate(upstream):
        for node_id in ids:
            if node_id in index:
                downstream[index[node_id]].append(position)
    node_ids = tuple(node.id for node in nodes)
    return DagGraph(tuple(nodes), node_ids, index, upstream, tuple(tuple(d) for d in downstream))


# Top-level workflows live as long as the executor's parsed specs (2,048); nested scopes (subworkflows, dynamic
# workflows, which are read again each round) in a small cache of their own so they cannot crowd those out.
_TOP_LEVEL_KEPT = 2048
_NESTED_KEPT = 32
# Keyed by the workflow message's identity, holding the message so the id stays its own while cached.
_graphs: dict[bool, OrderedDict[int, tuple[compiler_pb2.CompiledWorkflow, DagGraph]]] = {
    True: OrderedDict(),
    False: OrderedDict(),
}


def dag_graph(scope: Scope) -> DagGraph:
    """The scope's graph, cached per compiled workflow object (specs are parsed once per execution and kept)."""
    workflow, top_level = scope.workflow, not scope.prefix
    cache = _graphs[top_level]
    cached = cache.get(id(workflow))
    if cached is not None and cached[0] is workflow:
        cache.move_to_end(id(workflow))
        return cached[1]
    graph = build_graph(scope)
    cache[id(workflow)] = (workflow, graph)
    if len(cache) > (_TOP_LEVEL_KEPT if top_level else _NESTED_KEPT):
        cache.popitem(last=False)
    return graph
