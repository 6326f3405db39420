"""Async SQLAlchemy engines: SQLite (WAL, foreign keys, inline driver) for embedded use, PostgreSQL in production."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool, PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

from aloft_db.config import DatabaseConfig
from aloft_db.errors import translate_db_errors
from aloft_db.reads import PreparedRead
from aloft_db.sqlite_inline import connect_inline

# How long a statement waits for another connection's write lock before the caller gets UNAVAILABLE.
SQLITE_BUSY_SECONDS = 30.0


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Lock waits happen outside SQLite, awaiting (sqlite_inline), never blocking the event loop.
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.close()


# A pooled connection idle longer than this is pinged before use (a DB restart or an idle timeout may have closed
# it). Busy connections skip the ping: pinging every checkout costs one round trip per transaction.
PING_AFTER_IDLE_SECONDS = 2.0
_CHECKED_IN_AT = "aloft_checked_in_at"


def _ping_after_idle(engine: AsyncEngine, idle_seconds: float) -> None:
    dialect = engine.sync_engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        checked_in_at = record.info.get(_CHECKED_IN_AT)
        if checked_in_at is None or time.monotonic() - checked_in_at < idle_seconds:
            return  # new, or recently used
        try:
            alive = dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if not dialect.is_disconnect(exc, dbapi_connection, None):
                raise
            alive = False
        if not alive:
            # The pool invalidates this connection and checks out a fresh one.
            raise DisconnectionError("pooled connection was closed while idle")


@dataclass
class Database:
    """An engine plus a session factory. ``session()`` is one transaction, committed on success."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    sync_url: str

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commit on success, roll back on error, DB errors mapped to AloftError."""
        async with self.sessions() as session:
            with translate_db_errors():
                try:
                    yield session
                    await session.commit()
                except BaseException:
                    await session.rollback()
                    raise

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        """Reads that need no snapshot shared by their statements: each statement runs on its own, with no
        transaction around it, and nothing is committed at the end. PostgreSQL: the connection in autocommit (no
        BEGIN and COMMIT round trips); SQLite's driver begins no transaction for a SELECT. Staging a write here is
        a programming error: it raises rather than being dropped."""
        async with self.sessions() as session:
            with translate_db_errors():
                if self.dialect == "postgresql":
                    await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
                yield session
                if session.new or session.dirty or session.deleted:
                    raise RuntimeError("a read session staged a write")

    async def fetch(self, read: PreparedRead, params: Mapping[str, Any]) -> list[Any]:
        """``read``'s rows for ``params``, run on a pooled connection's driver (``reads.py``): no transaction around
        it (PostgreSQL: autocommit for the statement; SQLite's driver begins none for a SELECT), errors as in
        ``session()``: a lost connection is invalidated and the caller gets UNAVAILABLE."""
        return (await self.fetch_each([(read, params)]))[0]

    async def fetch_each(self, reads: Sequence[tuple[PreparedRead, Mapping[str, Any]]]) -> list[list[Any]]:
        """As ``fetch``, several reads in turn on one pooled connection: each statement on its own (no snapshot
        shared by them, as in ``read_session``)."""
        dialect = self.engine.dialect
        with translate_db_errors():
            pooled = await self._checkout()
            sql, args = None, None
            try:
                async with self._autocommit(pooled.driver_connection):
                    answers = []
                    for read, params in reads:
                        compiled = read.compiled(dialect)
                        sql, args = compiled.sql, read.parameters(compiled, params)
                        answers.append(await self._fetch_on(pooled, read, compiled, args))
                    return answers
            except dialect.loaded_dbapi.Error as exc:
                invalidated = bool(dialect.is_disconnect(exc, pooled.dbapi_connection, None))
                if invalidated:
                    await greenlet_spawn(pooled.invalidate, exc)
                raise DBAPIError.instance(
                    sql, args, exc, dialect.loaded_dbapi.Error, connection_invalidated=invalidated
                ) from exc
            finally:
                await greenlet_spawn(pooled.close)  # back to the pool (its reset on return included)

    async def write_one(self, statement: PreparedRead, params: Mapping[str, Any]) -> list[Any]:
        """PostgreSQL only: one statement that writes (data-modifying CTEs, ``RETURNING``) run as ``fetch`` runs a
        read, in autocommit: a lone statement is atomic by itself and durable when this returns; its rows returned.
        SQLite's driver would open a transaction for it that nothing commits, so it is refused there."""
        if self.dialect != "postgresql":
            raise ValueError(f"write_one runs on PostgreSQL only, not {self.dialect}")
        return await self.fetch(statement, params)

    async def _checkout(self) -> PoolProxiedConnection:
        dialect = self.engine.dialect
        try:
            return await greenlet_spawn(self.engine.sync_engine.raw_connection)
        except dialect.loaded_dbapi.Error as exc:  # the database is away: as SQLAlchemy's own connect reports it
            raise DBAPIError.instance(None, None, exc, dialect.loaded_dbapi.Error, connection_invalidated=True) from exc

    @asynccontextmanager
    async def _autocommit(self, driver: Any) -> AsyncIterator[None]:
        """PostgreSQL: the driver's connection in autocommit while the reads run (none begins a transaction)."""
        autocommit = self.dialect == "postgresql" and not driver.autocommit
        if autocommit:
            await driver.set_autocommit(True)
        try:
            yield
        finally:
            if autocommit:
                await driver.set_autocommit(False)

    async def _fetch_on(self, pooled: PoolProxiedConnection, read: PreparedRead, compiled: Any, args: Any) -> list[Any]:
        cursor = pooled.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            await cursor.execute(compiled.sql, args)
            return read.rows(compiled, self.engine.dialect, cursor, await cursor.fetchall())
        finally:
            await cursor.close()

    async def dispose(self) -> None:
        await self.engine.dispose()


def create_database(
    config: DatabaseConfig, default_sqlite_file: Path, *, ping_after_idle: float = PING_AFTER_IDLE_SECONDS
) -> Database:
    sync_url = config.sync_url(default_sqlite_file)
    url = make_url(config.async_url(default_sqlite_file))
    kwargs: dict[str, Any] = {"echo": config.debug}
    if url.get_backend_name() == "sqlite":
        database = url.database or ":memory:"
        if url.database:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        # SQLAlchemy's aiosqlite dialect on our inline driver: no thread hop per cursor call.
        kwargs["async_creator"] = lambda: connect_inline(database, SQLITE_BUSY_SECONDS)
        if not url.database or url.database == ":memory:":
            # Each connection to an in-memory database is a database of its own: never pool those apart.
            kwargs["poolclass"] = NullPool
        else:
            # Pooled: opening a connection (and setting WAL on it) costs more than the transaction itself.
            # WAL lets readers run beside the one writer; writers wait for each other (sqlite_inline: awaiting).
            kwargs["pool_size"], kwargs["max_overflow"] = config.pool_size, config.max_overflow
    else:
        kwargs["pool_size"], kwargs["max_overflow"] = config.pool_size, config.max_overflow
    engine = create_async_engine(url, **kwargs)
    if url.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        _ping_after_idle(engine, ping_after_idle)
    return Database(engine, async_sessionmaker(engine, expire_on_commit=False), sync_url)
