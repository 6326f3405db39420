"""pytest fixtures shared by every service's tests: the root pyproject.toml loads this plugin for every suite
(``-p aloft_testing.fixtures``).

- ``postgres_db``: a fresh, empty PostgreSQL database (PgDatabase), dropped afterwards.
- ``db_url`` (parametrized ``sqlite`` / ``postgres``): a SQLAlchemy sync URL for an empty database on each
  backend, so repository tests run on both.
- ``s3_endpoint`` (session): the URL of an S3 emulator (moto's server mode, aloft_testing.s3) on a free port;
  ``s3_bucket``: a fresh, empty bucket on it.
- ``throwaway_postgres``: a private PostgreSQL server (ThrowawayPostgres) the test may stop and start again.
- ``redis_url``: a Redis URL with a unique key prefix available as ``redis_prefix``.
- ``datacatalog_endpoint`` (session): host:port of a real ``aloft-datacatalog`` process (SQLite, local blobs)
  whose reservations expire one heartbeat after their last extension.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from aloft_testing.postgres import PgDatabase, drop_database, fresh_database
from aloft_testing.processes import run_service
from aloft_testing.s3 import create_bucket, moto_s3_server
from aloft_testing.servers import MissingServer, ThrowawayPostgres, ensure_redis, free_port


@pytest.fixture
def postgres_db() -> Iterator[PgDatabase]:
    db = fresh_database()
    try:
        yield db
    finally:
        drop_database(db)


@contextmanager
def empty_database_url(backend: str, sqlite_file: Path) -> Iterator[str]:
    """A SQLAlchemy sync URL for an empty database: ``sqlite_file`` or a fresh PostgreSQL database dropped on exit."""
    if backend == "sqlite":
        yield f"sqlite:///{sqlite_file}"
        return
    db = fresh_database()
    try:
        yield db.sync_url
    finally:
        drop_database(db)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with empty_database_url(request.param, tmp_path / "test.db") as url:
        yield url


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    with moto_s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    return create_bucket(s3_endpoint)


@pytest.fixture
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    try:
        server = ThrowawayPostgres()
    except MissingServer as exc:
        pytest.skip(f"PostgreSQL server binaries are missing: {exc}")
    server.start()
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture
def redis_url() -> str:
    host, port = ensure_redis()
    return f"redis://{host}:{port}/0"


@pytest.fixture(scope="session")
def datacatalog_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("datacatalog")
    grpc_port = free_port()
    config = {
        "stack": {"dataDir": str(root)},
        "database": {"sqlite": {"file": str(root / "datacatalog.db")}},
        "datacatalog": {"grpcPort": grpc_port, "httpPort": free_port(), "heartbeat-grace-period-multiplier": 1},
        "logger": {"level": "warning"},
    }
    with run_service("datacatalog", config, root, grpc_port) as endpoint:
        yield endpoint
