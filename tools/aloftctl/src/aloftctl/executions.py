"""Executions: lookup, the node tree of ``--details``, and ``--watch``'s live view until the execution ends."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from flyteidl.admin import common_pb2, execution_pb2, node_execution_pb2, task_execution_pb2
from flyteidl.core import catalog_pb2, identifier_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from google.protobuf import json_format
from rich.console import Group
from rich.live import Live
from rich.text import Text
from rich.tree import Tree

from aloftctl.client import AdminClient, CommandError
from aloftctl.output import Column, console, duration, timestamp, to_dict, truncate

WF_PHASE = core_execution_pb2.WorkflowExecution.Phase
NODE_PHASE = core_execution_pb2.NodeExecution.Phase
TERMINAL = {WF_PHASE.SUCCEEDED, WF_PHASE.FAILED, WF_PHASE.ABORTED, WF_PHASE.TIMED_OUT}
PHASE_STYLE = {"SUCCEEDED": "green", "FAILED": "red", "ABORTED": "yellow", "TIMED_OUT": "red", "RUNNING": "cyan"}
HIDDEN_NODES = {"start-node", "end-node"}
PAGE = 500


def execution_id(project: str, domain: str, name: str) -> identifier_pb2.WorkflowExecutionIdentifier:
    return identifier_pb2.WorkflowExecutionIdentifier(project=project, domain=domain, name=name)


def get(client: AdminClient, project: str, domain: str, name: str) -> execution_pb2.Execution:
    request = execution_pb2.WorkflowExecutionGetRequest(id=execution_id(project, domain, name))
    return client.call(client.admin.GetExecution, request)


def _error_text(execution: execution_pb2.Execution) -> str:
    closure = execution.closure
    if closure.HasField("error"):
        return error_tail(closure.error.message, lines=1)
    return ""


EXECUTION_COLUMNS = (
    Column("Name", lambda e: e.id.name),
    Column("Launch Plan Name", lambda e: e.spec.launch_plan.name),
    Column("Version", lambda e: e.spec.launch_plan.version),
    Column("Type", lambda e: identifier_pb2.ResourceType.Name(e.spec.launch_plan.resource_type)),
    Column("Phase", lambda e: WF_PHASE.Name(e.closure.phase)),
    Column("Started", lambda e: timestamp(e.closure.started_at)),
    Column("Elapsed Time", lambda e: duration(e.closure.duration)),
    Column("Abort Data", lambda e: truncate(e.closure.abort_metadata.cause, 40), max_width=40),
    Column("Error Data", lambda e: truncate(_error_text(e), 60), max_width=60),
)


@dataclass
class NodeView:
    node: node_execution_pb2.NodeExecution
    attempts: list[task_execution_pb2.TaskExecution] = field(default_factory=list)
    children: list[NodeView] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        document = to_dict(self.node)
        if self.attempts:
            document["taskExecutions"] = [to_dict(attempt) for attempt in self.attempts]
        if self.children:
            document["children"] = [child.document() for child in self.children]
        return document


def _list_nodes(
    client: AdminClient, exec_id: identifier_pb2.WorkflowExecutionIdentifier, parent: str = ""
) -> list[node_execution_pb2.NodeExecution]:
    nodes: list[node_execution_pb2.NodeExecution] = []
    token = ""
    for _ in range(100):  # bounded paging: 100 pages of 500 nodes
        request = node_execution_pb2.NodeExecutionListRequest(
            workflow_execution_id=exec_id,
            limit=PAGE,
            token=token,
            unique_parent_id=parent,
            sort_by=common_pb2.Sort(key="created_at", direction=common_pb2.Sort.ASCENDING),
        )
        reply = client.call(client.admin.ListNodeExecutions, request)
        nodes.extend(reply.node_executions)
        token = reply.token
        if not token:
            break
    return nodes


def _attempts(client: AdminClient, node: node_execution_pb2.NodeExecution) -> list[task_execution_pb2.TaskExecution]:
    request = task_execution_pb2.TaskExecutionListRequest(node_execution_id=node.id, limit=100)
    return list(client.call(client.admin.ListTaskExecutions, request).task_executions)


def node_tree(
    client: AdminClient, exec_id: identifier_pb2.WorkflowExecutionIdentifier, parent: str = "", depth: int = 0
) -> list[NodeView]:
    views: list[NodeView] = []
    for node in _list_nodes(client, exec_id, parent):
        if node.id.node_id in HIDDEN_NODES:
            continue
        view = NodeView(node)
        if node.metadata.is_parent_node and depth < 10:
            view.children = node_tree(client, exec_id, node.id.node_id, depth + 1)
        else:
            view.attempts = _attempts(client, node)
        views.append(view)
    return views


def _node_label(view: NodeView) -> Text:
    node = view.node
    phase = NODE_PHASE.Name(node.closure.phase)
    label = Text(node.metadata.spec_node_id or node.id.node_id, style="bold")
    if node.metadata.spec_node_id and node.metadata.spec_node_id != node.id.node_id:
        label.append(f" ({node.id.node_id})", style="dim")
    label.append(f"  {phase}", style=PHASE_STYLE.get(phase, ""))
    elapsed = duration(node.closure.duration)
    if elapsed:
        label.append(f"  {elapsed}")
    if view.attempts:
        label.append(f"  attempts={len(view.attempts)}")
    cache = node.closure.task_node_metadata.cache_status
    if cache:
        label.append(f"  cache={catalog_pb2.CatalogCacheStatus.Name(cache).removeprefix('CACHE_')}")
    if node.closure.HasField("error"):
        label.append(f"\n  error: {error_tail(node.closure.error.message)}", style="red")
    return label


def error_tail(message: str, lines: int = 3) -> str:
    """The end of an error: a task's traceback says what went wrong in its last lines."""
    meaningful = [line.strip() for line in message.splitlines() if line.strip()]
    return truncate(" | ".join(meaningful[-lines:]), 400)


def render_tree(execution: execution_pb2.Execution, views: list[NodeView]) -> Tree:
    phase = WF_PHASE.Name(execution.closure.phase)
    header = Text(f"{execution.id.name}  ", style="bold")
    header.append(phase, style=PHASE_STYLE.get(phase, ""))
    elapsed = duration(execution.closure.duration)
    if elapsed:
        header.append(f"  {elapsed}")
    if execution.closure.HasField("error"):
        header.append(f"\nerror: {error_tail(execution.closure.error.message)}", style="red")
    tree = Tree(header)
    _add_views(tree, views)
    return tree


def _add_views(tree: Tree, views: list[NodeView]) -> None:
    for view in views:
        branch = tree.add(_node_label(view))
        _add_views(branch, view.children)


def full_document(client: AdminClient, execution: execution_pb2.Execution) -> dict[str, Any]:
    """The execution as flytectl prints it, plus what debugging needs in one document: inputs and outputs (inlined
    from GetExecutionData when admin inlines them) and ``nodeExecutions`` with their attempts."""
    enriched = execution_pb2.Execution()
    enriched.CopyFrom(execution)
    try:
        data = client.call(
            client.admin.GetExecutionData, execution_pb2.WorkflowExecutionGetDataRequest(id=execution.id)
        )
    except CommandError:
        data = None
    if data is not None and data.HasField("full_inputs") and not enriched.spec.HasField("inputs"):
        enriched.spec.inputs.CopyFrom(data.full_inputs)
    document = json_format.MessageToDict(enriched)
    if data is not None and data.HasField("full_outputs"):
        # beside the outputs' uri (closure.outputs.uri), their values as `jq .closure.outputs` users expect
        document["closure"].setdefault("outputs", {})["values"] = json_format.MessageToDict(data.full_outputs)
    document["nodeExecutions"] = [view.document() for view in node_tree(client, execution.id)]
    return document


def watch(client: AdminClient, project: str, domain: str, name: str, interval: float = 1.0) -> execution_pb2.Execution:
    """Redraws the node tree until the execution reaches a terminal phase; returns the final execution."""
    with Live(console=console(), refresh_per_second=4, transient=False) as live:
        while True:
            execution = get(client, project, domain, name)
            views = node_tree(client, execution.id)
            live.update(Group(render_tree(execution, views)))
            if execution.closure.phase in TERMINAL:
                return execution
            time.sleep(interval)
