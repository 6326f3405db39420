"""PostgreSQL for tests: the local server when it answers, else a throwaway one from installed binaries.

``fresh_database()`` creates a uniquely named, empty database and returns its SQLAlchemy URLs; drop it with
``drop_database``. Tests that need PostgreSQL use the ``postgres_db`` (or ``db_url``) fixture from
``aloft_testing.fixtures``.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

import psycopg

from aloft_testing.servers import ensure_postgres


@dataclass(frozen=True)
class PgDatabase:
    host: str
    port: int
    user: str
    name: str

    @property
    def sync_url(self) -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{self.name}"

    @property
    def async_url(self) -> str:
        return self.sync_url


def admin_conninfo(host: str, port: int, user: str) -> str:
    return f"host={host} port={port} user={user} dbname=postgres connect_timeout=5"


def fresh_database(prefix: str = "aloft_test", server: tuple[str, int, str] | None = None) -> PgDatabase:
    """On ``server`` (host, port, user) when given, else on the shared test server."""
    host, port, user = server or ensure_postgres()
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_conninfo(host, port, user), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PgDatabase(host, port, user, name)


def drop_database(db: PgDatabase) -> None:
    with psycopg.connect(admin_conninfo(db.host, db.port, db.user), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')
