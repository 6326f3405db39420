"""Workflow store conformance, on SQLite and PostgreSQL: idempotent create, optimistic concurrency, paging."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aloft_db import DatabaseConfig, create_database, migrate
from aloft_propeller.server import MIGRATIONS, VERSION_TABLE
from aloft_propeller.state import NodePhase, WorkflowPhase, WorkflowState
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
