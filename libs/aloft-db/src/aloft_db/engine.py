"""Async SQLAlchemy engines: SQLite (WAL, foreign keys, busy timeout) for embedded use, PostgreSQL in production."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from aloft_db.config import DatabaseConfig
from aloft_db.errors import translate_db_errors


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


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

    async def dispose(self) -> None:
        await self.engine.dispose()


def create_database(config: DatabaseConfig, default_sqlite_file: Path) -> Database:
    sync_url = config.sync_url(default_sqlite_file)
    url = make_url(config.async_url(default_sqlite_file))
    kwargs: dict[str, Any] = {"echo": config.debug}
    if url.get_backend_name() == "sqlite":
        if url.database:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        # One connection per checkout keeps SQLite's locking predictable across tasks.
        kwargs["poolclass"] = NullPool
    else:
        kwargs["pool_size"] = config.maxIdleConnections or 1
        kwargs["max_overflow"] = max(config.maxOpenConnections - config.maxIdleConnections, 0)
        kwargs["pool_pre_ping"] = True
    engine = create_async_engine(url, **kwargs)
    if url.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return Database(engine, async_sessionmaker(engine, expire_on_commit=False), sync_url)
