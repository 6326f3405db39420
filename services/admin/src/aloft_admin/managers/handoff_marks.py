"""Group commit for the last step of a hand-off (``starting → done``): concurrent hand-offs share one transaction.

Every caller still waits until its own row is committed, so nothing is acknowledged earlier than before; only the
number of transactions falls (one per batch instead of one per execution). A crash before the batch commits
leaves the rows ``starting`` and the repair loop releases them again (StartExecution is idempotent).
"""

from __future__ import annotations

import asyncio

from flyteidl.core import identifier_pb2

from aloft_admin.repositories.base import RepositoryProvider

# Rows per UPDATE: bounds the statement's size (four bound values per row).
MAX_BATCH = 200


class StartedMarks:
    """``await mark(wid)`` returns once ``wid`` is recorded ``done`` (or raises what the batch's commit raised)."""

    def __init__(self, repos: RepositoryProvider) -> None:
        self._repos = repos
        self._waiting: list[tuple[identifier_pb2.WorkflowExecutionIdentifier, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def mark(self, wid: identifier_pb2.WorkflowExecutionIdentifier) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((wid, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all(), name="admin-handoff-started-marks")
        await done

    async def _write_all(self) -> None:
        """Commit batches until nobody waits; marks arriving during a commit form the next batch."""
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            try:
                async with self._repos.transaction() as tx:
                    await tx.executions.mark_started_each([wid for wid, _ in batch])
            except Exception as exc:  # every waiter of the batch gets the failure, as a transaction of its own would
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for _, done in batch:
                if not done.done():
                    done.set_result(None)
