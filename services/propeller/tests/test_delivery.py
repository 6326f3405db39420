"""Outbox delivery rules: order within a node group, workflow events as barriers, refusals, partial failure."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest
from flyteidl.core import identifier_pb2
from flyteidl.event import event_pb2

from aloft_db import DatabaseConfig, create_database, migrate
from aloft_propeller.controller.delivery import deliver_outbox
from aloft_propeller.events.recorder import OutboxRecorder
from aloft_propeller.events.sink import Delivery
from aloft_propeller.server import MIGRATIONS, VERSION_TABLE
from aloft_propeller.state import OutboxEvent, WorkflowPhase, WorkflowState
from aloft_propeller.store.base import ExecutionKey, WorkflowRecord
from aloft_propeller.store.sql import SqlWorkflowStore
from aloft_service.errors import Unavailable

EXECUTION = identifier_pb2.WorkflowExecutionIdentifier(project="p", domain="d", name="e")


class ScriptedSink:
    """An EventSink that records what it is sent, answering per (kind, node id) as scripted."""

    def __init__(self, answers: dict[tuple[str, str], Delivery | Exception] | None = None) -> None:
        self.sent: list[tuple[str, str, int]] = []
        self.answers = answers or {}

    async def send(self, kind: str, payload: bytes) -> Delivery:
        await asyncio.sleep(0.001 if kind == "node" else 0)  # let groups interleave
        if kind == "workflow":
            name, phase = "", event_pb2.WorkflowExecutionEvent.FromString(payload).phase
        elif kind == "node":
            event = event_pb2.NodeExecutionEvent.FromString(payload)
            name, phase = event.id.node_id, event.phase
        else:
            task = event_pb2.TaskExecutionEvent.FromString(payload)
            name, phase = task.parent_node_execution_id.node_id, task.phase
        answer = self.answers.get((kind, name), Delivery.DELIVERED)
        if isinstance(answer, Exception):
            raise answer
        self.sent.append((kind, name, phase))
        return answer

    async def close(self) -> None:
        return None


def _node(path: str, phase: int) -> event_pb2.NodeExecutionEvent:
    return event_pb2.NodeExecutionEvent(
        id=identifier_pb2.NodeExecutionIdentifier(node_id=path, execution_id=EXECUTION), phase=phase
    )


async def _record(tmp_path: Path, state: WorkflowState) -> tuple[SqlWorkflowStore, WorkflowRecord]:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    migrate(MIGRATIONS, url, VERSION_TABLE)
    store = SqlWorkflowStore(create_database(DatabaseConfig(url=url), tmp_path / "unused.db"))
    record, _ = await store.create(WorkflowRecord(key=ExecutionKey("p", "d", "e"), spec=b"s"))
    return store, await store.update(record.with_state(state))


def _outbox(state: WorkflowState) -> WorkflowState:
    recorder = OutboxRecorder(state, ["n0", "n1"])
    recorder.node(_node("n0", 1))
    recorder.node(_node("n1", 1))
    recorder.node(_node("n1-0-n0", 1))  # a child of n1: same group, after its parent
    recorder.node(_node("n0", 3))
    recorder.node(_node("n1-0-n0", 3))
    recorder.node(_node("n1", 3))
    recorder.workflow(event_pb2.WorkflowExecutionEvent(execution_id=EXECUTION, phase=4))
    return state


def _running_outbox() -> WorkflowState:
    """The same node events of a run still going (no workflow event)."""
    state = _outbox(WorkflowState(phase=WorkflowPhase.RUNNING))
    state.outbox.pop()
    return state


async def _kept_while_admin_is_down(tmp_path: Path, sink: ScriptedSink) -> list[OutboxEvent]:
    """Deliver the outbox of a finished run to ``sink`` (scripted to fail with Unavailable): what the store kept."""
    store, record = await _record(tmp_path, _outbox(WorkflowState(phase=WorkflowPhase.SUCCEEDED)))
    with pytest.raises(Unavailable):
        await deliver_outbox(record, sink, store)
    stored = await store.get(record.key)
    assert not stored.terminal  # undelivered events keep it in the active set
    return stored.state.outbox


async def test_group_order_and_workflow_barrier(tmp_path: Path) -> None:
    store, record = await _record(tmp_path, _outbox(WorkflowState(phase=WorkflowPhase.SUCCEEDED)))
    sink = ScriptedSink()
    done = await deliver_outbox(record, sink, store)
    assert done.terminal and not done.state.outbox
    order = [(name, phase) for _, name, phase in sink.sent]
    assert order[-1] == ("", 4)  # the workflow's terminal event goes last
    n1_group = [entry for entry in order if entry[0].startswith("n1")]
    assert n1_group == [("n1", 1), ("n1-0-n0", 1), ("n1-0-n0", 3), ("n1", 3)]
    assert [entry for entry in order if entry[0] == "n0"] == [("n0", 1), ("n0", 3)]


async def test_failed_group_keeps_its_events_and_everything_after_the_barrier(tmp_path: Path) -> None:
    sink = ScriptedSink({("node", "n1-0-n0"): Unavailable("admin down")})
    kept = await _kept_while_admin_is_down(tmp_path, sink)
    kept_nodes = [
        event_pb2.NodeExecutionEvent.FromString(base64.b64decode(e.payload_b64)).id.node_id for e in kept[:-1]
    ]
    assert kept_nodes == ["n1-0-n0", "n1-0-n0", "n1"] and kept[-1].kind == "workflow"
    assert ("workflow", "", 4) not in sink.sent and ("node", "n0", 3) in sink.sent


async def test_terminal_refusal_mutes_the_node_and_the_workflow_refusal_requests_abort(tmp_path: Path) -> None:
    state = _running_outbox()
    OutboxRecorder(state, ["n0", "n1"]).workflow(event_pb2.WorkflowExecutionEvent(execution_id=EXECUTION, phase=2))
    store, record = await _record(tmp_path, state)
    sink = ScriptedSink({("node", "n0"): Delivery.ALREADY_TERMINAL, ("workflow", ""): Delivery.ALREADY_TERMINAL})
    done = await deliver_outbox(record, sink, store)
    assert [name for _, name, _ in sink.sent].count("n0") == 1  # its second event was dropped
    assert "node:n0" in done.state.muted and "workflow" in done.state.muted
    assert "already terminal" in done.state.abort_cause


class ScriptedBatchSink(ScriptedSink):
    """Takes batches (admin's aloft.events.v1 RecordEvents), answering each event as ScriptedSink would."""

    def __init__(self, answers: dict[tuple[str, str], Delivery | Exception] | None = None) -> None:
        super().__init__(answers)
        self.batches = 0

    async def send_batch(self, events: list[tuple[str, bytes]]) -> list[Delivery | None] | None:
        self.batches += 1
        outcomes: list[Delivery | None] = []
        for kind, payload in events:
            try:
                outcomes.append(await self.send(kind, payload))
            except Unavailable:
                outcomes.append(None)
        return outcomes


async def test_batches_keep_the_outbox_order_in_one_call(tmp_path: Path) -> None:
    store, record = await _record(tmp_path, _outbox(WorkflowState(phase=WorkflowPhase.SUCCEEDED)))
    sink = ScriptedBatchSink()
    done = await deliver_outbox(record, sink, store)
    assert done.terminal and not done.state.outbox and sink.batches == 1
    assert [(name, phase) for _, name, phase in sink.sent] == [
        ("n0", 1), ("n1", 1), ("n1-0-n0", 1), ("n0", 3), ("n1-0-n0", 3), ("n1", 3), ("", 4)
    ]  # fmt: skip


async def test_batch_event_not_recorded_keeps_it_and_everything_after_it(tmp_path: Path) -> None:
    sink = ScriptedBatchSink({("node", "n1-0-n0"): Unavailable("admin down")})
    kept = await _kept_while_admin_is_down(tmp_path, sink)
    assert len(kept) == 5 and kept[-1].kind == "workflow"  # from the first n1-0-n0 event on


async def test_fully_delivered_running_workflow_is_not_written_again(tmp_path: Path) -> None:
    store, record = await _record(tmp_path, _running_outbox())
    done = await deliver_outbox(record, ScriptedBatchSink(), store)
    # The emptied outbox rides along with the next round's write; a crash before it re-sends duplicates.
    assert not done.state.outbox and done.resource_version == record.resource_version
    assert (await store.get(record.key)).state.outbox  # still in the store until then


async def test_batch_refusal_mutes_the_entity(tmp_path: Path) -> None:
    store, record = await _record(tmp_path, _running_outbox())
    done = await deliver_outbox(record, ScriptedBatchSink({("node", "n0"): Delivery.ALREADY_TERMINAL}), store)
    assert "node:n0" in done.state.muted and done.resource_version > record.resource_version
