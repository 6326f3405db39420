"""pytest fixtures shared by every service's tests: the root pyproject.toml loads this plugin for every suite
(``-p aloft_testing.fixtures``).

- ``postgres_db``: a fresh PostgreSQL database (PgDatabase) of its own, dropped afterwards.
- ``db_url`` (parametrized ``sqlite`` / ``postgres``): a SQLAlchemy sync URL for a database of its own on each
  backend, so repository tests run on both.
- ``db_template``: what those databases start with: empty (None) unless a suite's conftest overrides it with a
  ``DbTemplate`` (aloft_testing.databases: e.g. its migrations, applied once per session and copied per test); a
  test that needs an empty database says so with ``@pytest.mark.parametrize("db_template", [None])``.
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

from aloft_testing.databases import DbTemplate, pg_databases, sqlite_templates
from aloft_testing.postgres import PgDatabase
from aloft_testing.processes import run_service
from aloft_testing.s3 import create_bucket, moto_s3_server
from aloft_testing.servers import MissingServer, ThrowawayPostgres, ensure_redis, free_port


@pytest.fixture
def db_template() -> DbTemplate | None:
    return None


@pytest.fixture
def postgres_db(db_template: DbTemplate | None) -> Iterator[PgDatabase]:
    databases = pg_databases()
    db = databases.take(db_template)
    try:
        yield db
    finally:
        databases.give_back(db)


@contextmanager
def database_url(backend: str, sqlite_file: Path, template: DbTemplate | None = None) -> Iterator[str]:
    """A SQLAlchemy sync URL for a new database starting as ``template`` (None: empty): ``sqlite_file`` or a
    PostgreSQL database dropped on exit."""
    if backend == "sqlite":
        if template is not None:
            sqlite_templates().copy_to(template, sqlite_file)
        yield f"sqlite:///{sqlite_file}"
        return
    databases = pg_databases()
    db = databases.take(template)
    try:
        yield db.sync_url
    finally:
        databases.give_back(db)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, db_template: DbTemplate | None) -> Iterator[str]:
    with database_url(request.param, tmp_path / "test.db", db_template) as url:
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
