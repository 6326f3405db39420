"""The data plane's per-execution status: workflow phase plus one ``NodeState`` per node path, stored as JSON (the
store keeps the workflow's own fields, each node and each outbox event in rows of their own: ``StateEncoder``).

Node paths: a top-level node is its id (``n0``); a node inside a branch or subworkflow is
``{parent path}-{parent retry attempt}-{child id}`` (deterministic, so attempt ids are stable across restarts).
The ``outbox`` holds events already decided but not yet acknowledged by admin: it is persisted with the state
that produced them before any of them is sent (in order, in the background: controller/round.py), so a crash
never loses (nor reorders) an event.
"""

from __future__ import annotations

import base64
import bisect
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
_ACTIVE_NODE_PHASES = {NodePhase.QUEUED, NodePhase.RUNNING, NodePhase.RETRYABLE_FAILURE}


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
    def running_task(self) -> bool:
        """A task node started and not finished: it counts against the execution's max parallelism."""
        return self.kind == "task" and self.phase in _ACTIVE_NODE_PHASES

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
    # Numbered in order per execution (``WorkflowState.event_seq``): the event's row key in the store.
    seq: int = 0


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
    # The sequence number of the last event added to the outbox.
    event_seq: int = 0
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


def encode_node(node: NodeState) -> str:
    """One node's stored JSON (a row of its own in the store)."""
    return _dumps(_node_dict(node))


def decode_node(raw: str | bytes) -> NodeState:
    return _node_from_dict(json.loads(raw))


def encode_scalars(state: WorkflowState) -> str:
    """The workflow's own fields: everything but its nodes and outbox (stored in rows of their own)."""
    return _dumps(_scalars(state))


def assemble(scalars: str | bytes, nodes: dict[str, NodeState], outbox: list[OutboxEvent]) -> WorkflowState:
    """A state from its stored parts (``encode_scalars``, decoded node rows, outbox rows in order)."""
    state = WorkflowState.from_json(scalars)
    state.nodes, state.outbox = nodes, outbox
    return state


@dataclass(frozen=True)
class NodeChange:
    path: str
    before: NodePhase  # the phase when the round first touched it
    node: NodeState


@dataclass(frozen=True)
class StateDelta:
    """What a write must change in the stored state: the workflow's own fields (always, with the version), the
    nodes whose JSON changed, the events appended, and the events to drop (delivered or muted): every stored event
    before ``drop_before`` (delivery takes the outbox's head), and ``dropped`` ones after it."""

    scalars: str
    nodes: dict[str, str]
    events: list[OutboxEvent]
    drop_before: int | None = None
    dropped: tuple[int, ...] = ()


def _outbox_start(state: WorkflowState) -> int:
    """The lowest event sequence number still wanted: every stored event below it was delivered."""
    return state.outbox[0].seq if state.outbox else state.event_seq + 1


class StateEncoder:
    """Tracks one execution's state between writes: re-encodes only the nodes touched since the last encode
    (``WorkflowState.touched``) and writes only what changed since the last write (``delta``): a large workflow's
    state costs milliseconds to encode and write whole, and a round changes a few nodes. Made from a state as
    stored (read, or written in full); valid while the state keeps its ``nodes`` dict."""

    def __init__(self, stored: WorkflowState) -> None:
        self._nodes_of = stored.nodes
        self._fragments = {path: encode_node(node) for path, node in stored.nodes.items()}
        stored.touched.clear()
        self._unwritten: dict[str, str] = {}
        self._scalars = self._written_scalars = encode_scalars(stored)
        self._top = stored.event_seq
        # The stored events' sequence numbers, ascending (the outbox keeps its events in order).
        self._written_events = [event.seq for event in stored.outbox]
        self._written_start = _outbox_start(stored)
        # Paths of the running task nodes, kept as nodes are encoded: the max-parallelism budget without a scan of
        # every node each round.
        self._running = {path for path, node in stored.nodes.items() if node.running_task}

    def encode(self, state: WorkflowState) -> tuple[bool, list[NodeChange]]:
        """Whether the state changed since the last encode (an event appended counts; one delivered does not), and
        the touched nodes whose encoding changed."""
        changes: list[NodeChange] = []
        if self._nodes_of is not state.nodes:  # replaced wholesale: every node may have changed
            self._nodes_of, self._fragments, self._running = state.nodes, {}, set()
            paths: list[str] = list(state.nodes)
        else:
            paths = list(state.touched)
        touched = state.touched
        for path in paths:
            node = state.nodes.get(path)
            if node is None:
                continue
            fragment = encode_node(node)
            if self._fragments.get(path) != fragment:
                self._fragments[path] = self._unwritten[path] = fragment
                changes.append(NodeChange(path, touched.get(path, NodePhase.NOT_YET_STARTED), node))
                if node.running_task:
                    self._running.add(path)
                else:
                    self._running.discard(path)
        touched.clear()
        scalars = encode_scalars(state)
        changed = bool(changes) or scalars != self._scalars or state.event_seq != self._top
        self._scalars, self._top = scalars, state.event_seq
        return changed, changes

    @property
    def running_tasks(self) -> int:
        """Task nodes started and not finished, as of the last ``encode``."""
        return len(self._running)

    def delta(self, state: WorkflowState, force: bool = False, defer_drops: bool = False) -> StateDelta | None:
        """What changed since the last write (after ``encode``); None if nothing. ``force``: a delta even so, which
        drops every stored event before the outbox's head (a delivery emptied it without a write). ``defer_drops``:
        None when delivered events are all that changed (the next write drops them). O(changes): new events are the
        outbox's tail past the last stored one, delivered ones its head."""
        start = _outbox_start(state)
        outbox, written = state.outbox, self._written_events
        top = written[-1] if written else 0
        fresh = len(outbox)
        while fresh and outbox[fresh - 1].seq > top:
            fresh -= 1
        kept = written[bisect.bisect_left(written, start) :]
        dropped: tuple[int, ...] = ()
        if len(kept) != fresh:  # events left from behind the head (muted): find which
            current = {event.seq for event in outbox[:fresh]}
            dropped = tuple(seq for seq in kept if seq not in current)
        events = outbox[fresh:]
        drop_before = start if force or start > self._written_start else None
        unchanged = not (self._unwritten or events or dropped) and self._scalars == self._written_scalars
        if unchanged and (drop_before is None or (defer_drops and not force)):
            return None
        return StateDelta(self._scalars, dict(self._unwritten), events, drop_before, dropped)

    def written(self, state: WorkflowState, delta: StateDelta) -> None:
        """``delta`` (from ``delta(state)``) is durable."""
        for path, fragment in delta.nodes.items():
            if self._unwritten.get(path) == fragment:
                del self._unwritten[path]
        self._written_scalars = delta.scalars
        start = _outbox_start(state)
        written = self._written_events[bisect.bisect_left(self._written_events, start) :]
        if delta.dropped:
            gone = set(delta.dropped)
            written = [seq for seq in written if seq not in gone]
        written.extend(event.seq for event in delta.events)
        self._written_events, self._written_start = written, start

    def check(self, state: WorkflowState) -> None:
        """Tests: the incremental encoding equals a whole one (no node changed without being touched)."""
        whole = {path: encode_node(node) for path, node in state.nodes.items()}
        if whole != self._fragments or encode_scalars(state) != self._scalars:
            raise AssertionError("the incremental state encoding differs from the whole one (a node changed untouched)")
        if self._running != {path for path, node in state.nodes.items() if node.running_task}:
            raise AssertionError("the running task nodes kept by the encoder differ from a count of every node")


def _node_from_dict(data: dict[str, Any]) -> NodeState:
    error = data.pop("error", None)
    return NodeState(
        phase=NodePhase(data.pop("phase")), error=ExecutionError.from_dict(error) if error else None, **data
    )
