"""The data plane's per-execution status: workflow phase plus one ``NodeState`` per node path, stored as JSON.

Node paths: a top-level node is its id (``n0``); a node inside a branch or subworkflow is
``{parent path}-{parent retry attempt}-{child id}`` (deterministic, so attempt ids are stable across restarts).
The ``outbox`` holds events already decided but not yet acknowledged by admin: it is persisted with the state
that produced them before any of them is sent (in order, in the background: controller/round.py), so a crash
never loses (nor reorders) an event.
"""

from __future__ import annotations

import base64
import enum
import json
from dataclasses import dataclass, field, fields
from typing import Any

from aloft_propeller.execution_error import ExecutionError


class NodePhase(enum.StrEnum):
    NOT_YET_STARTED = "NOT_YET_STARTED"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    # The attempt failed and another one is due; the next round starts it (after persisting the new attempt number).
    RETRYABLE_FAILURE = "RETRYABLE_FAILURE"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    SKIPPED = "SKIPPED"
    ABORTED = "ABORTED"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL_NODE_PHASES


_TERMINAL_NODE_PHASES = {
    NodePhase.SUCCEEDED,
    NodePhase.FAILED,
    NodePhase.TIMED_OUT,
    NodePhase.SKIPPED,
    NodePhase.ABORTED,
}


class WorkflowPhase(enum.StrEnum):
    READY = "READY"
    RUNNING = "RUNNING"
    FAILING = "FAILING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    ABORTED = "ABORTED"

    @property
    def is_terminal(self) -> bool:
        return self in (WorkflowPhase.SUCCEEDED, WorkflowPhase.FAILED, WorkflowPhase.ABORTED)


@dataclass
class NodeState:
    phase: NodePhase = NodePhase.NOT_YET_STARTED
    kind: str = ""  # task | branch | subworkflow ... (set when the node starts)
    attempt: int = 0
    system_failures: int = 0
    started_at: float | None = None
    attempt_started_at: float | None = None
    updated_at: float | None = None
    message: str = ""
    error: ExecutionError | None = None
    outputs_uri: str = ""
    deck_uri: str = ""
    # Task nodes: the plugin's opaque state and last reported phase/version (to emit task events on change).
    plugin_state_b64: str = ""
    plugin_phase: int = 0
    plugin_phase_version: int = 0
    # Branch nodes: the id of the chosen child node ("" until decided).
    branch_taken: str = ""
    # Task nodes that turned out dynamic: the offloaded compiled dynamic workflow ("" while the task runs).
    dynamic_workflow_uri: str = ""

    @property
    def plugin_state(self) -> bytes:
        return base64.b64decode(self.plugin_state_b64) if self.plugin_state_b64 else b""

    @plugin_state.setter
    def plugin_state(self, value: bytes) -> None:
        self.plugin_state_b64 = base64.b64encode(value).decode() if value else ""


@dataclass
class OutboxEvent:
    kind: str  # workflow | node | task
    payload_b64: str  # serialized flyteidl.event message
    # Delivery order is kept within a group (a top-level node with its tasks and descendants); groups may go
    # concurrently; workflow events ("") are barriers.
    group: str = ""


@dataclass
class WorkflowState:
    phase: WorkflowPhase = WorkflowPhase.READY
    started_at: float | None = None
    updated_at: float | None = None
    abort_cause: str = ""
    # Created with hold (two-phase hand-off): nothing is evaluated until StartExecution clears it.
    held: bool = False
    error: ExecutionError | None = None
    outputs_uri: str = ""
    nodes: dict[str, NodeState] = field(default_factory=dict)
    outbox: list[OutboxEvent] = field(default_factory=list)
    # Entities admin refused as already terminal: never send events for them again.
    muted: list[str] = field(default_factory=list)
    # Not persisted: the paths ``node`` handed out since the encoder last looked (they may have changed), with
    # each one's phase when first handed out. Node states are changed only through ``node``.
    touched: dict[str, NodePhase] = field(default_factory=dict, repr=False, compare=False)

    @property
    def finished(self) -> bool:
        """Terminal and every event delivered: nothing is left for the controller to do."""
        return self.phase.is_terminal and not self.outbox

    def node(self, path: str) -> NodeState:
        state = self.nodes.get(path)
        if state is None:
            state = self.nodes[path] = NodeState()
        if path not in self.touched:
            self.touched[path] = state.phase
        return state

    def peek(self, path: str) -> NodeState | None:
        """A node's state to read only (not marked as touched)."""
        return self.nodes.get(path)

    def to_json(self) -> bytes:
        # Hand-built rather than dataclasses.asdict: that deep-copies every value and dominated round CPU time.
        data = _scalars(self)
        data["nodes"] = {path: _node_dict(node) for path, node in self.nodes.items()}
        data["outbox"] = [vars(event) for event in self.outbox]
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes | str | None) -> WorkflowState:
        if not raw:
            return cls()
        data: dict[str, Any] = json.loads(raw)
        nodes = {path: _node_from_dict(node) for path, node in data.pop("nodes", {}).items()}
        outbox = [OutboxEvent(**event) for event in data.pop("outbox", [])]
        error = data.pop("error", None)
        return cls(
            phase=WorkflowPhase(data.pop("phase", "READY")),
            error=ExecutionError.from_dict(error) if error else None,
            nodes=nodes,
            outbox=outbox,
            **data,
        )


def _plain(error: ExecutionError | None) -> dict[str, Any] | None:
    return error.to_dict() if error is not None else None


_NODE_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(NodeState)}


def _scalars(state: WorkflowState) -> dict[str, Any]:
    data = {key: value for key, value in vars(state).items() if key not in ("nodes", "outbox", "touched")}
    data["error"] = _plain(state.error)
    return data


def _node_dict(node: NodeState) -> dict[str, Any]:
    """Fields at their default are left out (``from_json`` restores them): a node's JSON is half as long, and a
    large workflow's state is written every round."""
    data = {key: value for key, value in vars(node).items() if key == "phase" or value != _NODE_DEFAULTS[key]}
    if node.error is not None:
        data["error"] = node.error.to_dict()
    return data


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


@dataclass(frozen=True)
class NodeChange:
    path: str
    before: NodePhase  # the phase when the round first touched it
    node: NodeState


class StateEncoder:
    """Encodes one execution's state round after round, re-encoding only the nodes touched since the last encode
    (``WorkflowState.touched``) and the outbox events not seen before: a large workflow's state costs
    milliseconds to encode whole, and a round changes a few nodes. The same JSON as ``to_json`` (key order
    aside). Valid while the state keeps its ``nodes`` dict: a state read from the store is encoded whole."""

    def __init__(self) -> None:
        self._nodes_of: dict[str, NodeState] | None = None
        self._fragments: dict[str, str] = {}
        self._events: dict[int, tuple[OutboxEvent, str]] = {}
        # The latest update time of a terminal node (transition latency: when the next node could have started).
        self.last_end = 0.0

    def encode(self, state: WorkflowState) -> tuple[bytes, list[NodeChange]]:
        """The state's JSON and the touched nodes whose encoding changed (all of them on a first encode)."""
        changes: list[NodeChange] = []
        if self._nodes_of is not state.nodes:
            self._nodes_of, self._fragments, self.last_end = state.nodes, {}, 0.0
            paths: list[str] = list(state.nodes)
        else:
            paths = list(state.touched)
        touched = state.touched
        for path in paths:
            node = state.nodes.get(path)
            if node is None:
                continue
            fragment = f"{_dumps(path)}:{_dumps(_node_dict(node))}"
            if self._fragments.get(path) != fragment:
                self._fragments[path] = fragment
                changes.append(NodeChange(path, touched.get(path, NodePhase.NOT_YET_STARTED), node))
                if node.phase.is_terminal and node.updated_at:
                    self.last_end = max(self.last_end, node.updated_at)
        touched.clear()
        events = self._encode_events(state.outbox)
        nodes = ",".join(self._fragments.values())
        scalars = _dumps(_scalars(state))
        return f'{{"nodes":{{{nodes}}},"outbox":[{events}],{scalars[1:]}'.encode(), changes

    def _encode_events(self, outbox: list[OutboxEvent]) -> str:
        kept: dict[int, tuple[OutboxEvent, str]] = {}
        for event in outbox:
            known = self._events.get(id(event))
            if known is None or known[0] is not event:
                known = (event, _dumps(vars(event)))
            kept[id(event)] = known
        self._events = kept  # holding the events keeps their ids their own
        return ",".join(encoded for _, encoded in kept.values())


def _node_from_dict(data: dict[str, Any]) -> NodeState:
    error = data.pop("error", None)
    return NodeState(
        phase=NodePhase(data.pop("phase")), error=ExecutionError.from_dict(error) if error else None, **data
    )
