"""Workflow store conformance, on SQLite and PostgreSQL: idempotent create, optimistic concurrency, paging, state
written as deltas (changed nodes and events) or whole."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from flyteidl.core import identifier_pb2
from flyteidl.event import event_pb2

from aloft_db import DatabaseConfig, create_database, migrate
from aloft_propeller.events.recorder import OutboxRecorder
from aloft_propeller.server import MIGRATIONS, VERSION_TABLE
from aloft_propeller.state import NodePhase, OutboxEvent, StateEncoder, WorkflowPhase, WorkflowState
from aloft_propeller.store.base import ExecutionKey, StaleRecord, WorkflowRecord
from aloft_propeller.store.sql import SqlWorkflowStore
from aloft_service.errors import AlreadyExists, InvalidArgument, NotFound


@pytest.fixture
async def store(db_url: str, tmp_path: Path) -> AsyncIterator[SqlWorkflowStore]:
    migrate(MIGRATIONS, db_url, VERSION_TABLE)
    db = create_database(DatabaseConfig(url=db_url), tmp_path / "unused.db")
    try:
        yield SqlWorkflowStore(db)
    finally:
        await db.dispose()


def _record(name: str, spec: bytes = b"spec") -> WorkflowRecord:
    return WorkflowRecord(key=ExecutionKey("p", "d", name), spec=spec, cluster="c1")


async def test_create_is_idempotent_on_same_spec(store: SqlWorkflowStore) -> None:
    created, existed = await store.create(_record("a"))
    assert not existed and created.resource_version == 1 and created.shard_key
    again, existed = await store.create(_record("a"))
    assert existed and again.resource_version == 1 and again.shard_key == created.shard_key
    with pytest.raises(AlreadyExists, match="p/d/a"):
        await store.create(_record("a", spec=b"other"))


async def test_concurrent_creates_of_one_execution_are_idempotent(store: SqlWorkflowStore) -> None:
    """Admin's inline hand-off and its repair loop may create the same execution at once: one inserts, the others
    get the existing record (never the database's unique-violation as a refusal)."""
    results = await asyncio.gather(*(store.create(_record("raced")) for _ in range(10)))
    assert sorted(existed for _, existed in results) == [False] + [True] * 9
    assert len({record.shard_key for record, _ in results}) == 1


async def test_stale_write_fails_and_fresh_write_wins(store: SqlWorkflowStore) -> None:
    created, _ = await store.create(_record("a"))
    state = WorkflowState(phase=WorkflowPhase.RUNNING)
    state.node("n0").phase = NodePhase.RUNNING
    first = await store.update(created.with_state(state))
    assert first.resource_version == 2
    with pytest.raises(StaleRecord) as stale:
        await store.update(created.with_state(WorkflowState(abort_cause="late")))
    assert stale.value.code.name == "ABORTED"
    fresh = await store.get(created.key)
    assert fresh.resource_version == 2 and fresh.state.abort_cause == ""
    assert fresh.state.node("n0").phase == NodePhase.RUNNING
    done = await store.update(fresh.with_state(WorkflowState(phase=WorkflowPhase.SUCCEEDED)))
    assert done.terminal and done.resource_version == 3


async def test_get_unknown_names_the_execution(store: SqlWorkflowStore) -> None:
    with pytest.raises(NotFound, match="p/d/missing"):
        await store.get(ExecutionKey("p", "d", "missing"))


async def test_active_keys_and_paging(store: SqlWorkflowStore) -> None:
    for i in range(5):
        await store.create(_record(f"w{i}"))
    finished = await store.get(ExecutionKey("p", "d", "w1"))
    await store.update(finished.with_state(WorkflowState(phase=WorkflowPhase.FAILED)))
    assert sorted(k.name for k in await store.active_keys()) == ["w0", "w2", "w3", "w4"]
    first = await store.page(limit=2)
    second = await store.page(limit=2, token=first.next_token)
    third = await store.page(limit=2, token=second.next_token)
    names = [r.key.name for page in (first, second, third) for r in page.records]
    assert names == ["w0", "w1", "w2", "w3", "w4"] and third.next_token == ""
    active = await store.page(limit=10, only_active=True)
    assert [r.key.name for r in active.records] == ["w0", "w2", "w3", "w4"]
    with pytest.raises(InvalidArgument, match="token"):
        await store.page(limit=2, token="nope")


def _events(state: WorkflowState, *paths: str) -> None:
    recorder = OutboxRecorder(state, paths)
    for path in paths:
        recorder.node(event_pb2.NodeExecutionEvent(id=identifier_pb2.NodeExecutionIdentifier(node_id=path), phase=1))


def _whole(state: WorkflowState) -> object:
    return json.loads(state.to_json())


async def test_a_delta_writes_changed_nodes_and_events_and_reads_back_whole(store: SqlWorkflowStore) -> None:
    created, _ = await store.create(_record("delta"))
    state = WorkflowState(phase=WorkflowPhase.RUNNING)
    for i in range(4):
        state.node(f"n{i}").kind = "task"
    _events(state, "n0", "n1", "n2")
    written = await store.update(created.with_state(state))  # whole
    encoder = StateEncoder(state)
    state.node("n1").phase = NodePhase.SUCCEEDED
    _events(state, "n3")
    state.outbox = state.outbox[2:]  # the first two delivered
    state.muted.append("node:n9")
    encoder.encode(state)
    delta = encoder.delta(state)
    assert delta is not None and list(delta.nodes) == ["n1"] and [e.seq for e in delta.events] == [4]
    written = await store.update(written.with_state(state), delta)
    encoder.written(state, delta)
    stored = (await store.get(written.key)).state
    assert _whole(stored) == _whole(state)
    assert [event.seq for event in stored.outbox] == [3, 4] and stored.event_seq == 4

    # A muted entity's event leaves the outbox behind its head; a stale delta writes nothing.
    state.outbox = [state.outbox[0]]
    encoder.encode(state)
    delta = encoder.delta(state)
    assert delta is not None and delta.dropped == (4,) and delta.drop_before is None
    with pytest.raises(StaleRecord):
        await store.update(created.with_state(state), delta)
    assert [event.seq for event in (await store.get(written.key)).state.outbox] == [3, 4]
    await store.update(written.with_state(state), delta)
    assert _whole((await store.get(written.key)).state) == _whole(state)


async def test_a_whole_write_replaces_every_node_and_event(store: SqlWorkflowStore) -> None:
    created, _ = await store.create(_record("whole"))
    state = WorkflowState()
    state.node("n0").kind = "task"
    _events(state, "n0")
    written = await store.update(created.with_state(state))
    replaced = WorkflowState(phase=WorkflowPhase.SUCCEEDED)
    replaced.node("n1").phase = NodePhase.SUCCEEDED
    written = await store.update(written.with_state(replaced))
    stored = await store.get(written.key)
    assert _whole(stored.state) == _whole(replaced) and stored.terminal
    page = await store.page(10)
    assert [_whole(record.state) for record in page.records] == [_whole(replaced)]


async def test_migration_splits_a_stored_state_into_rows(db_url: str, tmp_path: Path) -> None:
    """A state written whole by the first schema (nodes and outbox in one JSON) reads back the same after the
    upgrade, its events numbered in order; later events follow them."""
    migrate(MIGRATIONS, db_url, VERSION_TABLE, revision="propeller_0001")
    old = WorkflowState(phase=WorkflowPhase.RUNNING)
    old.node("n0").phase = NodePhase.SUCCEEDED
    old.node("n1").attempt = 2
    _events(old, "n0", "n1")
    status = json.loads(old.to_json())
    for event in status["outbox"]:
        del event["seq"]  # the first schema had none
    status.pop("event_seq")
    now = datetime.now(UTC)
    engine = sa.create_engine(db_url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO propeller_workflows (project, domain, name, shard_key, cluster, spec, status,"
                " resource_version, terminal, created_at, updated_at)"
                " VALUES ('p', 'd', 'old', '3', '', :spec, :status, 7, false, :now, :now)"
            ),
            {"spec": b"spec", "status": json.dumps(status).encode(), "now": now},
        )
    engine.dispose()
    migrate(MIGRATIONS, db_url, VERSION_TABLE)
    db = create_database(DatabaseConfig(url=db_url), tmp_path / "unused.db")
    try:
        store = SqlWorkflowStore(db)
        record = await store.get(ExecutionKey("p", "d", "old"))
        assert _whole(record.state) == _whole(old) and record.resource_version == 7
        encoder = StateEncoder(record.state)
        _events(record.state, "n1")
        encoder.encode(record.state)
        await store.update(record, encoder.delta(record.state))
        stored = (await store.get(record.key)).state
        assert [event.seq for event in stored.outbox] == [1, 2, 3] and _whole(stored) == _whole(record.state)
    finally:
        await db.dispose()


async def test_a_created_state_reads_back_whole_and_as_the_listing_reads_it(store: SqlWorkflowStore) -> None:
    """A create writes the state's nodes and events with the workflow (one statement on PostgreSQL); ``get`` (the
    driver-level reads) answers with every field as ``page`` (the ORM's) does."""
    state = WorkflowState(phase=WorkflowPhase.RUNNING)
    state.node("n0").kind = "task"
    state.node("n1").phase = NodePhase.SUCCEEDED
    _events(state, "n0", "n1")
    created, existed = await store.create(_record("full").with_state(state))
    assert not existed and created.resource_version == 1 and not created.terminal
    got = await store.get(created.key)
    assert _whole(got.state) == _whole(state) and [event.seq for event in got.state.outbox] == [1, 2]
    assert bytes(base64.b64decode(got.state.outbox[0].payload_b64)) == base64.b64decode(state.outbox[0].payload_b64)
    (listed,) = (await store.page(10)).records
    fields = ("key", "spec", "shard_key", "cluster", "resource_version", "terminal", "created_at", "updated_at")
    assert [getattr(got, f) for f in fields] == [getattr(listed, f) for f in fields]
    stored_at = got.created_at if got.created_at.tzinfo else got.created_at.replace(tzinfo=UTC)  # SQLite: naive UTC
    assert stored_at == created.created_at
    assert _whole(listed.state) == _whole(got.state)
    again, existed = await store.create(_record("full").with_state(WorkflowState()))
    assert existed and _whole(again.state) == _whole(state)  # the stored record, nothing rewritten


async def test_nodes_and_events_with_awkward_content_round_trip_through_create_and_delta(
    store: SqlWorkflowStore,
) -> None:
    """Node JSON with quotes, backslashes and non-ASCII text, paths of any characters and event payloads of every
    byte value come back exactly (PostgreSQL takes them as JSON documents: ``json_each_text`` and base64)."""
    state = WorkflowState(phase=WorkflowPhase.RUNNING)
    state.node('n"0\\').message = 'quote " backslash \\ tab \t é ✓ {"json": [1]}'
    state.node("n-1-é").kind = "task"
    state.outbox.append(OutboxEvent(kind="node", payload_b64=base64.b64encode(bytes(range(256))).decode(), seq=1))
    state.event_seq = 1
    created, _ = await store.create(_record("awkward").with_state(state))
    assert _whole((await store.get(created.key)).state) == _whole(state)
    encoder = StateEncoder(state)
    state.node("n-1-é").message = "a NUL \x00, \\u0000 spelled out, \\\\ and ' too"
    payload = bytes(reversed(range(256))) * 3
    state.outbox.append(OutboxEvent(kind="task", payload_b64=base64.b64encode(payload).decode(), group='g"', seq=2))
    state.event_seq = 2
    encoder.encode(state)
    delta = encoder.delta(state)
    assert delta is not None and list(delta.nodes) == ["n-1-é"]
    await store.update(created.with_state(state), delta)
    stored = (await store.get(created.key)).state
    assert _whole(stored) == _whole(state)
    assert [base64.b64decode(event.payload_b64) for event in stored.outbox] == [bytes(range(256)), payload]
