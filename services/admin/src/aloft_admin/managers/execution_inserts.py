"""Group insert for CreateExecution: the creates that reach their INSERT together share one statement.

Each caller still returns only once the statement holding its row has committed (it commits on its own), so nothing
is acknowledged earlier than before; only the number of statements falls (one per batch instead of one per
create: each statement's fixed cost, the pool checkout, SQLAlchemy's execution and psycopg's round trip, is shared).
Per row the answer is unchanged: a taken name is ALREADY_EXISTS for that row only (the statement skips it), two
creates of one name never share a batch (the second waits for the next one, where its name is taken if the first
committed), and a statement the database refused (an integrity check: nothing of it was written) is retried one row
at a time, so a bad row fails only itself. Any other failure (the database away, the connection lost, when the
statement may have committed) fails every row of the batch, as each single INSERT would have failed; none of them
is answered ALREADY_EXISTS, so none has its inputs removed.
"""

from __future__ import annotations

import asyncio

from aloft_admin.repositories.base import RepositoryProvider, RowsRefused
from aloft_admin.repositories.models.executions import NewExecution
from aloft_service.errors import AlreadyExists, FailedPrecondition

# Rows per statement: bounds its size (about forty bound values per row).
MAX_BATCH = 200

_Waiting = tuple[NewExecution, "asyncio.Future[bool]"]


class ExecutionInserts:
    """``await insert(row)`` returns once the row is committed; a taken name raises AlreadyExists."""

    def __init__(self, repos: RepositoryProvider) -> None:
        self._repos = repos
        self._waiting: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    async def insert(self, row: NewExecution) -> None:
        inserted: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((row, inserted))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all(), name="admin-execution-inserts")
        if not await inserted:
            raise AlreadyExists("entity already exists")

    async def _write_all(self) -> None:
        while self._waiting:
            await self._write(self._next_batch())

    def _next_batch(self) -> list[_Waiting]:
        """The oldest waiting rows, one per name, at most MAX_BATCH; the others keep their place."""
        batch: list[_Waiting] = []
        names: set[tuple[str, str, str, str]] = set()
        rest: list[_Waiting] = []
        for waiting in self._waiting:
            name = waiting[0].key
            if len(batch) < MAX_BATCH and name not in names:
                names.add(name)
                batch.append(waiting)
            else:
                rest.append(waiting)
        self._waiting = rest
        return batch

    async def _write(self, batch: list[_Waiting]) -> None:
        try:
            inserted = await self._repos.insert_executions([row for row, _ in batch])
        except (RowsRefused, FailedPrecondition) as exc:
            if len(batch) == 1:
                _fail(batch, exc)
                return
            for waiting in batch:  # refused as a whole: nothing was written; each row answers for itself
                await self._write([waiting])
            return
        except Exception as exc:  # noqa: BLE001 - every waiter fails, as its own INSERT would have
            _fail(batch, exc)
            return
        for (_, waiter), done in zip(batch, inserted, strict=True):
            if not waiter.done():
                waiter.set_result(done)


def _fail(batch: list[_Waiting], exc: BaseException) -> None:
    for _, waiter in batch:
        if not waiter.done():
            waiter.set_exception(exc)
