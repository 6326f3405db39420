"""``get workflow NAME -o dot``: the compiled workflow's graph in Graphviz dot (pipe into ``dot -Tsvg``)."""

from __future__ import annotations

import json
from typing import Any


def _quote(text: str) -> str:
    return json.dumps(text)


def _node_label(node: Any) -> str:
    target = node.WhichOneof("target")
    detail = ""
    if target == "task_node":
        detail = node.task_node.reference_id.name
    elif target == "workflow_node":
        reference = node.workflow_node.WhichOneof("reference")
        detail = getattr(node.workflow_node, reference).name if reference else "workflow"
    elif target:
        detail = target.replace("_node", "")
    return f"{node.id}\n{detail}" if detail else node.id


def to_dot(workflow: Any) -> str:
    primary = workflow.closure.compiled_workflow.primary
    template = primary.template
    lines = [f"digraph {_quote(workflow.id.name)} {{", "  rankdir=LR;", "  node [shape=box, style=rounded];"]
    for node in template.nodes:
        lines.append(f"  {_quote(node.id)} [label={_quote(_node_label(node))}];")
    edges: set[tuple[str, str]] = set()
    for source, targets in primary.connections.downstream.items():
        edges.update((source, target) for target in targets.ids)
    if not edges:
        for node in template.nodes:
            edges.update((upstream, node.id) for upstream in node.upstream_node_ids)
    for source, target in sorted(edges):
        lines.append(f"  {_quote(source)} -> {_quote(target)};")
    lines.append("}")
    return "\n".join(lines)
