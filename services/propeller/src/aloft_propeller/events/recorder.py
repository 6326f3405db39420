"""The event recorder the executor writes to: events are appended to the workflow state's outbox (persisted with
the state that produced them) and delivered by the controller after the state is saved. Entities admin refused
as already terminal are muted and get no further events."""

from __future__ import annotations

import base64
from collections.abc import Iterable

from flyteidl.event import event_pb2

from aloft_propeller.state import OutboxEvent, WorkflowState

WORKFLOW_ENTITY = "workflow"


def node_entity(path: str) -> str:
    return f"node:{path}"


def task_entity(path: str, attempt: int) -> str:
    return f"task:{path}:{attempt}"


def entity_of(kind: str, payload: bytes) -> str:
    if kind == "workflow":
        return WORKFLOW_ENTITY
    if kind == "node":
        return node_entity(event_pb2.NodeExecutionEvent.FromString(payload).id.node_id)
    task = event_pb2.TaskExecutionEvent.FromString(payload)
    return task_entity(task.parent_node_execution_id.node_id, task.retry_attempt)


class OutboxRecorder:
    def __init__(self, state: WorkflowState, top_level_ids: Iterable[str] = ()) -> None:
        self._state = state
        self._roots = top_level_ids if isinstance(top_level_ids, (set, frozenset)) else frozenset(top_level_ids)

    def group_of(self, path: str) -> str:
        """The longest top-level id that is the path or a prefix of it ending at a "-" ("n1-n0" over "n1")."""
        if path in self._roots:
            return path
        cut = len(path)
        while (cut := path.rfind("-", 0, cut)) > 0:
            if path[:cut] in self._roots:
                return path[:cut]
        return path

    def _append(self, kind: str, entity: str, payload: bytes, group: str) -> None:
        if entity in self._state.muted:
            return
        encoded = base64.b64encode(payload).decode()
        self._state.event_seq += 1
        self._state.outbox.append(OutboxEvent(kind=kind, payload_b64=encoded, group=group, seq=self._state.event_seq))

    def workflow(self, event: event_pb2.WorkflowExecutionEvent) -> None:
        self._append("workflow", WORKFLOW_ENTITY, event.SerializeToString(deterministic=True), "")

    def node(self, event: event_pb2.NodeExecutionEvent) -> None:
        path = event.id.node_id
        self._append("node", node_entity(path), event.SerializeToString(deterministic=True), self.group_of(path))

    def task(self, event: event_pb2.TaskExecutionEvent) -> None:
        path = event.parent_node_execution_id.node_id
        entity = task_entity(path, event.retry_attempt)
        self._append("task", entity, event.SerializeToString(deterministic=True), self.group_of(path))
