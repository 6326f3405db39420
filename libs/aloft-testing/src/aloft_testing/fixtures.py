"""pytest fixtures shared by every service's tests. Enable with ``pytest_plugins = ["aloft_testing.fixtures"]``.

- ``postgres_db``: a fresh, empty PostgreSQL database (PgDatabase), dropped afterwards.
- ``db_url`` (parametrized ``sqlite`` / ``postgres``): a SQLAlchemy sync URL for an empty database on each
  backend, so repository tests run on both.
- ``redis_url``: a Redis URL with a unique key prefix available as ``redis_prefix``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aloft_testing.postgres import PgDatabase, drop_database, fresh_database
from aloft_testing.servers import ensure_redis


@pytest.fixture
def postgres_db() -> Iterator[PgDatabase]:
    db = fresh_database()
    try:
        yield db
    finally:
        drop_database(db)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    db = fresh_database()
    try:
        yield db.sync_url
    finally:
        drop_database(db)


@pytest.fixture
def redis_url() -> str:
    host, port = ensure_redis()
    return f"redis://{host}:{port}/0"
