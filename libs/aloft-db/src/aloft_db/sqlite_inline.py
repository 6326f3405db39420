"""SQLite for asyncio without a thread hop per call: the aiosqlite interface SQLAlchemy drives, run on the event loop.

aiosqlite runs every cursor call (create, execute, fetch, close: about four per SQL statement) in its own thread
and wakes the event loop for each answer; on a loaded machine those hops, not SQLite, were most of a transaction's
time. Here the same calls run inline: a statement on a local WAL database takes microseconds, less than one hop.

The one wait SQLite has is for another connection's write lock. Waiting inside SQLite (``busy_timeout``) would block
the event loop, and the lock's holder may be a coroutine on this very loop: a deadlock. So connections are opened
with ``busy_timeout=0`` and a statement that finds the database locked (``SQLITE_BUSY``) awaits the end of a
transaction on this loop (or a short back-off, for a holder in another process) and is tried again, until
``busy_seconds``; the holder commits in the meantime. A statement refused with SQLITE_BUSY had
no effect, so trying it again is safe; other errors (``SQLITE_BUSY_SNAPSHOT`` too, which a retry cannot cure) are
raised at once.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")

_FIRST_BACKOFF, _MAX_BACKOFF = 0.0005, 0.02


class _TransactionEnds:
    """Wakes the statements of this loop that wait for a database's write lock when a transaction on it ends."""

    def __init__(self) -> None:
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Event]] = (
            weakref.WeakKeyDictionary()
        )

    def next_end(self, database: str) -> asyncio.Event:
        events = self._by_loop.setdefault(asyncio.get_running_loop(), {})
        return events.setdefault(database, asyncio.Event())

    def ended(self, database: str) -> None:
        try:
            events = self._by_loop.get(asyncio.get_running_loop())
        except RuntimeError:  # closed outside a loop (garbage collection, dispose at exit): nobody waits
            return
        event = events.pop(database, None) if events else None
        if event is not None:
            event.set()


_TRANSACTION_ENDS = _TransactionEnds()


class InlineSqliteCursor:
    def __init__(self, connection: InlineSqliteConnection) -> None:
        self._connection = connection
        self._cursor = connection._conn.cursor()

    async def __aenter__(self) -> InlineSqliteCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Any = None) -> InlineSqliteCursor:
        if parameters is None:
            await self._connection.when_not_busy(lambda: self._cursor.execute(sql))
        else:
            await self._connection.when_not_busy(lambda: self._cursor.execute(sql, parameters))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineSqliteCursor:
        rows = list(parameters)  # a retry needs them again
        await self._connection.when_not_busy(lambda: self._cursor.executemany(sql, rows))
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class _RunAtOnce:
    """SQLAlchemy sets ``isolation_level`` by queueing a function on aiosqlite's thread (``_tx``): run it here."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as exc:  # noqa: BLE001 - handed to the awaiting caller, as aiosqlite's thread does
            future.set_exception(exc)


class InlineSqliteConnection:
    """What SQLAlchemy's aiosqlite dialect uses of ``aiosqlite.Connection``."""

    def __init__(self, conn: sqlite3.Connection, database: str, busy_seconds: float) -> None:
        self._conn = conn
        self._database = database
        self._connection: sqlite3.Connection | None = conn  # the dialect checks it before commit/rollback
        self._tx = _RunAtOnce()
        self._busy_seconds = busy_seconds

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    async def when_not_busy(self, call: Callable[[], T]) -> T:
        deadline, pause = time.monotonic() + self._busy_seconds, _FIRST_BACKOFF
        while True:
            try:
                return call()
            except sqlite3.OperationalError as exc:
                if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    raise
            try:  # the holder is on this loop (woken when it ends) or in another process (the back-off)
                await asyncio.wait_for(_TRANSACTION_ENDS.next_end(self._database).wait(), pause)
            except TimeoutError:
                pause = min(pause * 2, _MAX_BACKOFF)

    def cursor(self) -> InlineSqliteCursor:
        return InlineSqliteCursor(self)

    async def commit(self) -> None:
        await self.when_not_busy(self._conn.commit)
        _TRANSACTION_ENDS.ended(self._database)

    async def rollback(self) -> None:
        self._conn.rollback()
        _TRANSACTION_ENDS.ended(self._database)

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()
            _TRANSACTION_ENDS.ended(self._database)


async def connect_inline(database: str, busy_seconds: float) -> InlineSqliteConnection:
    conn = sqlite3.connect(database, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=0")  # never wait inside SQLite: see the module docstring
    return InlineSqliteConnection(conn, database, busy_seconds)
