"""flytepropeller's resource-version caching, as a decorator of the workflow store the round runner reads through.

``get`` answers from the last record this store read or wrote for the execution, so rounds that change nothing skip
the database. A write by anyone else makes the cached record's next ``update`` stale (``StaleRecord``), and the
data-plane API calls ``invalidate`` after every write (through the controller), so a cached record is never trusted
past a conflicting change: a record is kept only when no invalidation happened since the read it descends from.
Terminal records are never kept. ``remember`` keeps a record with unwritten changes the next write carries (an
outbox delivery emptied). Everything else passes through.
"""

from __future__ import annotations

from aloft_propeller.state import StateDelta
from aloft_propeller.store.base import ExecutionKey, Page, WorkflowRecord, WorkflowStore


class CachedWorkflowStore:
    def __init__(self, inner: WorkflowStore) -> None:
        self._inner = inner
        self._records: dict[ExecutionKey, WorkflowRecord] = {}
        self._invalidations = 0
        # The invalidation count when each cached or read record was read: later writes keep it only if unchanged.
        self._read_at: dict[ExecutionKey, int] = {}

    def invalidate(self, key: ExecutionKey) -> None:
        self._records.pop(key, None)
        self._invalidations += 1

    async def get(self, key: ExecutionKey) -> WorkflowRecord:
        cached = self._records.get(key)
        if cached is not None:
            self._read_at[key] = self._invalidations
            return cached
        seen = self._invalidations
        record = await self._inner.get(key)
        self._read_at[key] = seen
        self._remember(record, seen)
        return record

    async def update(self, record: WorkflowRecord, delta: StateDelta | None = None) -> WorkflowRecord:
        seen = self._read_at.get(record.key, -1)
        try:
            written = await self._inner.update(record, delta)
        except BaseException:
            self.invalidate(record.key)
            raise
        self._remember(written, seen)
        return written

    def remember(self, record: WorkflowRecord) -> None:
        """Keep ``record`` as the execution's latest although it was not written: it carries changes the next write
        includes (delivery empties the outbox without a write of its own). Dropped if invalidated since its read."""
        self._remember(record, self._read_at.get(record.key, -1))

    def _remember(self, record: WorkflowRecord, seen: int) -> None:
        if self._invalidations == seen and not record.terminal:
            self._records[record.key] = record
        else:
            self._records.pop(record.key, None)

    async def create(self, record: WorkflowRecord) -> tuple[WorkflowRecord, bool]:
        return await self._inner.create(record)

    async def page(self, limit: int, token: str = "", only_active: bool = False) -> Page:
        return await self._inner.page(limit, token, only_active)

    async def active_keys(self) -> list[ExecutionKey]:
        return await self._inner.active_keys()
