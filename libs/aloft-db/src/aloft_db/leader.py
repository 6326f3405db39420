"""One leader per background loop among replicas sharing a database (PostgreSQL advisory lock).

Replicas of a service (two admins on one PostgreSQL) must not both run a loop that dispatches work, or it is
dispatched twice. ``AdvisoryLeader.is_leader()`` holds a session-level ``pg_try_advisory_lock`` on a dedicated
connection: the lock lives exactly as long as that connection, so a replica that dies (even by SIGKILL) frees it when
PostgreSQL sees its socket close, and another replica takes over on its next call. On SQLite one process owns the
database file: it is always the leader.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from aloft_db.engine import Database

log = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name``."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class AdvisoryLeader:
    def __init__(self, db: Database, name: str) -> None:
        self._db = db
        self._name = name
        self._key = lock_key(name)
        self._connection: AsyncConnection | None = None

    async def is_leader(self) -> bool:
        """Whether this replica leads ``name`` now: keeps the lock it holds, else tries to take it."""
        if self._db.dialect != "postgresql":
            return True
        try:
            if self._connection is not None:
                if self._connection.invalidated:  # its session (and so the lock) is gone; using it would reconnect
                    raise OSError("the connection holding the lock was lost")
                await self._connection.execute(text("SELECT 1"))  # still holding it (the lock lives with the socket)
                return True
            connection = await (await self._db.engine.connect()).execution_options(isolation_level="AUTOCOMMIT")
            taken = (await connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key})).scalar()
            if not taken:
                await connection.close()
                return False
            self._connection = connection
            log.info("this replica now leads %s", self._name)
            return True
        except (SQLAlchemyError, OSError) as exc:
            log.warning("leadership of %s lost or not reachable: %s", self._name, exc)
            await self._drop()
            return False

    async def release(self) -> None:
        await self._drop()

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            # Invalidate rather than close: a pooled connection would keep the session-level lock for its next user.
            with contextlib.suppress(SQLAlchemyError, OSError):
                await connection.invalidate()
                await connection.close()
