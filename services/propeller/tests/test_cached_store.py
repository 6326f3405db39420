"""The resource-version cache in front of the workflow store (store/cached.py): reads skipped while nothing else
wrote, never trusted past an invalidation, terminal records never kept."""

from __future__ import annotations

from dataclasses import replace

import pytest

from aloft_propeller.state import WorkflowPhase, WorkflowState
from aloft_propeller.store.base import ExecutionKey, Page, StaleRecord, WorkflowRecord
from aloft_propeller.store.cached import CachedWorkflowStore

KEY = ExecutionKey("p", "d", "e1")


class CountingStore:
    """An in-memory store with the real update rule (resource-version check) that counts reads."""

    def __init__(self) -> None:
        self.records = {KEY: WorkflowRecord(key=KEY, spec=b"spec", resource_version=1)}
        self.reads = 0

    async def get(self, key: ExecutionKey) -> WorkflowRecord:
        self.reads += 1
        return self.records[key]

    async def update(self, record: WorkflowRecord, encoded: bytes | None = None) -> WorkflowRecord:
        if self.records[record.key].resource_version != record.resource_version:
            raise StaleRecord(f"{record.key} changed")
        written = replace(record, resource_version=record.resource_version + 1)
        self.records[record.key] = written
        return written

    async def create(self, record: WorkflowRecord) -> tuple[WorkflowRecord, bool]:
        raise NotImplementedError

    async def page(self, limit: int, token: str = "", only_active: bool = False) -> Page:
        raise NotImplementedError

    async def active_keys(self) -> list[ExecutionKey]:
        return list(self.records)


async def test_reads_are_answered_from_the_last_record_read_or_written() -> None:
    inner = CountingStore()
    cached = CachedWorkflowStore(inner)
    first = await cached.get(KEY)
    assert await cached.get(KEY) is first and inner.reads == 1
    written = await cached.update(first.with_state(WorkflowState(phase=WorkflowPhase.RUNNING)))
    assert await cached.get(KEY) is written and inner.reads == 1


async def test_an_invalidation_forces_a_fresh_read_and_drops_a_write_racing_it() -> None:
    inner = CountingStore()
    cached = CachedWorkflowStore(inner)
    record = await cached.get(KEY)
    cached.invalidate(KEY)  # the API wrote the execution meanwhile
    await cached.update(record.with_state(WorkflowState(phase=WorkflowPhase.RUNNING)))
    await cached.get(KEY)
    assert inner.reads == 2  # the write that raced the invalidation was not kept


async def test_a_stale_update_invalidates_and_terminal_records_are_never_kept() -> None:
    inner = CountingStore()
    cached = CachedWorkflowStore(inner)
    record = await cached.get(KEY)
    inner.records[KEY] = replace(record, resource_version=7)  # someone else wrote, unannounced
    with pytest.raises(StaleRecord):
        await cached.update(record.with_state(WorkflowState(phase=WorkflowPhase.RUNNING)))
    fresh = await cached.get(KEY)
    assert fresh.resource_version == 7 and inner.reads == 2
    await cached.update(fresh.with_state(WorkflowState(phase=WorkflowPhase.SUCCEEDED)))
    assert inner.records[KEY].terminal
    await cached.get(KEY)
    assert inner.reads == 3


async def test_a_remembered_unwritten_record_answers_the_next_read_unless_invalidated() -> None:
    inner = CountingStore()
    cached = CachedWorkflowStore(inner)
    record = await cached.get(KEY)
    emptied = record.with_state(WorkflowState(phase=WorkflowPhase.RUNNING))  # e.g. delivery emptied the outbox
    cached.remember(emptied)
    assert await cached.get(KEY) is emptied and inner.reads == 1
    cached.invalidate(KEY)
    cached.remember(emptied)  # read before the invalidation: not kept
    assert await cached.get(KEY) is not emptied and inner.reads == 2
