"""Group commit for the hand-off's two conditional updates: concurrent hand-offs share one transaction.

Every caller still waits until its own row is committed, so nothing is acknowledged or sent earlier than before;
only the number of transactions falls (one per batch instead of one per execution). Each row's update keeps its
own condition (``pending → starting`` only from pending, ``starting → done`` only from starting), so a terminate
racing a hand-off still finds exactly one winner. A crash before a batch commits leaves its rows as they were and
the repair loop carries on from there (CreateExecution and StartExecution are idempotent). A batch written with
one statement (every ``starting → done`` batch; a ``pending → starting`` batch for one cluster and shard) runs
without BEGIN and COMMIT: the statement commits when it returns. The marks run on a pooled connection, not in an
ORM session (``RepositoryProvider.handoff_marks``): they are prebuilt Core statements, and a session per batch
(set-up, flush bookkeeping, close) cost more CPU than the statements themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Generic, TypeAlias, TypeVar

from flyteidl.core import identifier_pb2

from aloft_admin.repositories.base import HandoffMarkRepo, RepositoryProvider
from aloft_admin.transformers.timestamps import Clock

# Rows per transaction: bounds the statements' size (four bound values per row).
MAX_BATCH = 200

T = TypeVar("T")
R = TypeVar("R")
WorkflowExecutionId: TypeAlias = identifier_pb2.WorkflowExecutionIdentifier


class _GroupCommit(Generic[T, R]):
    """``await submit(item)`` returns the item's result once its batch committed (or raises what the commit raised).

    Items arriving while a batch commits form the next batch.
    """

    def __init__(self, repos: RepositoryProvider) -> None:
        self._repos = repos
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        result: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, result))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all(), name=f"admin-{type(self).__name__}")
        return await result

    async def _write_all(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            try:
                items = [item for item, _ in batch]
                async with self._repos.handoff_marks(one_statement=self._one_statement(items)) as marks:
                    results = await self._write(marks, items)
            except Exception as exc:  # noqa: BLE001 - every waiter fails, as its own transaction would have
                for _, waiter in batch:
                    if not waiter.done():
                        waiter.set_exception(exc)
                continue
            for (_, waiter), value in zip(batch, results, strict=True):
                if not waiter.done():
                    waiter.set_result(value)

    async def _write(self, marks: HandoffMarkRepo, items: Sequence[T]) -> list[R]:
        raise NotImplementedError

    def _one_statement(self, items: Sequence[T]) -> bool:
        """Whether ``_write`` writes ``items`` with one statement: then it commits on its own (PostgreSQL: no BEGIN
        and COMMIT round trips)."""
        return False


HandedOff: TypeAlias = tuple[WorkflowExecutionId, str, str]  # execution, cluster, shard key


class HandedOffMarks(_GroupCommit[HandedOff, bool]):
    """``pending → starting`` (``ExecutionRepo.mark_handed_off``); True when the row was still pending."""

    def __init__(self, repos: RepositoryProvider, clock: Clock) -> None:
        super().__init__(repos)
        self._clock = clock

    def _one_statement(self, items: Sequence[HandedOff]) -> bool:
        return len({(cluster, shard_key) for _, cluster, shard_key in items}) == 1  # one UPDATE per target

    async def _write(self, marks: HandoffMarkRepo, items: Sequence[HandedOff]) -> list[bool]:
        by_target: dict[tuple[str, str], list[WorkflowExecutionId]] = {}
        for wid, cluster, shard_key in items:
            by_target.setdefault((cluster, shard_key), []).append(wid)
        now = self._clock()
        moved: set[tuple[str, str, str, str]] = set()
        for (cluster, shard_key), wids in by_target.items():
            moved |= await marks.mark_handed_off_each(wids, cluster, shard_key, now)
        return [(wid.org, wid.project, wid.domain, wid.name) in moved for wid, _, _ in items]


class StartedMarks(_GroupCommit[WorkflowExecutionId, None]):
    """``starting → done`` (``ExecutionRepo.mark_started``)."""

    def _one_statement(self, items: Sequence[WorkflowExecutionId]) -> bool:
        return True

    async def _write(self, marks: HandoffMarkRepo, items: Sequence[WorkflowExecutionId]) -> list[None]:
        await marks.mark_started_each(items)
        return [None] * len(items)
