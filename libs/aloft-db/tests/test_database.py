"""Database helper on SQLite and PostgreSQL: pragmas, one transaction per session, error mapping, migrations."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.orm import DeclarativeBase

from aloft_db import Database, DatabaseConfig, create_database, migrate
from aloft_service.errors import AlreadyExists, FailedPrecondition, Unavailable
from aloft_testing.servers import free_port

metadata = sa.MetaData()
projects = sa.Table(
    "projects",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(63), nullable=False, unique=True),
)
tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id"), nullable=False),
)


class _Base(DeclarativeBase):
    pass


class _Project(_Base):
    __table__ = projects


@pytest.fixture
async def db(db_url: str, tmp_path: Path) -> AsyncIterator[Database]:
    database = create_database(DatabaseConfig(url=db_url), tmp_path / "unused.db")
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield database
    await database.dispose()


async def count(db: Database, table: sa.Table) -> int:
    async with db.session() as session:
        return int((await session.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())


async def test_unique_violation_is_already_exists(db: Database) -> None:
    async with db.session() as session:
        await session.execute(projects.insert().values(name="flytesnacks"))
    with pytest.raises(AlreadyExists):
        async with db.session() as session:
            await session.execute(projects.insert().values(name="flytesnacks"))


async def test_foreign_key_violation_is_failed_precondition(db: Database) -> None:
    with pytest.raises(FailedPrecondition):
        async with db.session() as session:
            await session.execute(tasks.insert().values(project_id=12345))


async def test_a_failed_session_writes_nothing(db: Database) -> None:
    with pytest.raises(AlreadyExists):
        async with db.session() as session:
            await session.execute(projects.insert().values(name="a"))
            await session.execute(projects.insert().values(name="a"))
    assert await count(db, projects) == 0


async def test_an_exception_in_the_caller_rolls_back(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.session() as session:
            await session.execute(projects.insert().values(name="b"))
            raise RuntimeError("caller failed after writing")
    assert await count(db, projects) == 0


def _in_transaction(driver_connection: Any) -> bool:
    """Whether the driver's connection has a transaction open (psycopg or the inline SQLite driver)."""
    info = getattr(driver_connection, "info", None)
    if info is not None:  # psycopg
        return bool(info.transaction_status != info.transaction_status.IDLE)
    return bool(driver_connection._conn.in_transaction)


async def test_a_read_session_opens_no_transaction_and_leaves_its_connection_transactional(
    db_url: str, tmp_path: Path
) -> None:
    """A read session's SELECT runs on its own (no BEGIN before it, so PostgreSQL has no BEGIN and COMMIT round
    trips); the one pooled connection then serves ordinary sessions, whose failures still roll back."""
    config = DatabaseConfig.model_validate({"url": db_url, "maxIdleConnections": 1, "maxOpenConnections": 1})
    database = create_database(config, tmp_path / "unused.db")
    try:
        async with database.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        async with database.session() as session:
            await session.execute(projects.insert().values(name="kept"))
        async with database.read_session() as session:
            assert (await session.execute(sa.select(projects.c.name))).scalars().all() == ["kept"]
            raw = await (await session.connection()).get_raw_connection()
            assert not _in_transaction(raw.driver_connection)
        with pytest.raises(RuntimeError):
            async with database.session() as session:
                await session.execute(projects.insert().values(name="dropped"))
                raise RuntimeError("caller failed after writing")
        assert await count(database, projects) == 1
    finally:
        await database.dispose()


async def test_a_write_staged_in_a_read_session_raises(db: Database) -> None:
    with pytest.raises(RuntimeError, match="staged a write"):
        async with db.read_session() as session:
            session.add(_Project(name="x"))
    assert await count(db, projects) == 0


async def test_an_unreachable_database_is_unavailable_without_sql_text(tmp_path: Path) -> None:
    port = free_port()  # nothing listens here
    database = create_database(DatabaseConfig(url=f"postgresql+psycopg://postgres@127.0.0.1:{port}/x"), tmp_path / "u")
    try:
        with pytest.raises(Unavailable) as away:
            async with database.session() as session:
                await session.execute(sa.text("SELECT 1"))
        assert away.value.message == "database unavailable, retry later"
    finally:
        await database.dispose()


async def test_a_wrong_statement_is_not_mistaken_for_an_outage(db: Database) -> None:
    with pytest.raises(sa.exc.DBAPIError) as wrong:
        async with db.session() as session:
            await session.execute(sa.text("SELECT * FROM no_such_table"))
    assert not isinstance(wrong.value, Unavailable)


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    db = create_database(DatabaseConfig(), tmp_path / "nested" / "svc.db")
    try:
        assert db.dialect == "sqlite"
        async with db.session() as session:
            assert (await session.execute(sa.text("PRAGMA journal_mode"))).scalar_one() == "wal"
            assert (await session.execute(sa.text("PRAGMA foreign_keys"))).scalar_one() == 1
        assert (tmp_path / "nested" / "svc.db").exists()
    finally:
        await db.dispose()


async def test_postgres_engine(postgres_db: object) -> None:
    url = postgres_db.sync_url  # type: ignore[attr-defined]
    db = create_database(DatabaseConfig(url=url), Path("unused"))
    try:
        assert db.dialect == "postgresql"
        async with db.session() as session:
            assert (await session.execute(sa.text("SELECT 1"))).scalar_one() == 1
    finally:
        await db.dispose()


async def _backend_pid(db: Database) -> int:
    async with db.session() as session:
        return int((await session.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one())


def _terminate(db: Database, pid: int) -> None:
    """Kill a backend from a separate connection (as a DB restart or an idle timeout would)."""
    engine = sa.create_engine(db.sync_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    finally:
        engine.dispose()


async def test_postgres_replaces_a_pooled_connection_closed_while_idle(postgres_db: object) -> None:
    """A pooled connection idle past ``ping_after_idle`` is pinged at checkout; a dead one is replaced."""
    url = postgres_db.sync_url  # type: ignore[attr-defined]
    config = DatabaseConfig.model_validate({"url": url, "maxIdleConnections": 1, "maxOpenConnections": 2})
    db = create_database(config, Path("unused"), ping_after_idle=0.0)
    try:
        pid = await _backend_pid(db)
        _terminate(db, pid)
        assert await _backend_pid(db) != pid
    finally:
        await db.dispose()


async def test_postgres_reuses_a_recently_used_connection_without_a_ping(postgres_db: object) -> None:
    """Busy connections skip the ping (one round trip per transaction): a dead one surfaces as an error once."""
    url = postgres_db.sync_url  # type: ignore[attr-defined]
    config = DatabaseConfig.model_validate({"url": url, "maxIdleConnections": 1, "maxOpenConnections": 2})
    db = create_database(config, Path("unused"), ping_after_idle=3600.0)
    try:
        pid = await _backend_pid(db)
        _terminate(db, pid)
        with pytest.raises(Exception):  # noqa: B017 - the driver's disconnect error, mapped by translate_db_errors
            await _backend_pid(db)
        assert await _backend_pid(db) != pid  # the pool invalidated the dead connection
    finally:
        await db.dispose()


def test_only_one_backend_may_be_configured() -> None:
    with pytest.raises(ValidationError, match="set only one of url, postgres, sqlite"):
        DatabaseConfig.model_validate({"url": "sqlite:///x.db", "sqlite": {"file": "y.db"}})


def test_urls_from_flyte_shaped_sections(tmp_path: Path) -> None:
    password = tmp_path / "pw"
    password.write_text("s3cr:t\n")
    config = DatabaseConfig.model_validate(
        {"postgres": {"host": "db", "port": 5433, "dbname": "flyte", "username": "app", "passwordPath": str(password)}}
    )
    assert config.sync_url(tmp_path / "d.db") == "postgresql+psycopg://app:s3cr%3At@db:5433/flyte"
    assert DatabaseConfig().sync_url(tmp_path / "d.db") == f"sqlite:///{tmp_path / 'd.db'}"
    assert DatabaseConfig().async_url(tmp_path / "d.db").startswith("sqlite+aiosqlite:///")
    sqlite = DatabaseConfig.model_validate({"sqlite": {"file": "/var/lib/a.db"}})
    assert sqlite.sync_url(tmp_path / "d.db") == "sqlite:////var/lib/a.db"


ENV_PY = """
import sqlalchemy as sa
from aloft_db.alembic_env import run

run(sa.MetaData())
"""

REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("widgets", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(20)))


def downgrade() -> None:
    op.drop_table("widgets")
"""


def test_migrate_applies_revisions_once_with_its_own_version_table(db_url: str, tmp_path: Path) -> None:
    scripts = tmp_path / "migrations"
    (scripts / "versions").mkdir(parents=True)
    (scripts / "env.py").write_text(ENV_PY)
    (scripts / "versions" / "0001_widgets.py").write_text(REVISION)

    migrate(scripts, db_url, "widgets_alembic_version")
    migrate(scripts, db_url, "widgets_alembic_version")  # idempotent: already at head

    engine = sa.create_engine(db_url)
    try:
        tables = set(sa.inspect(engine).get_table_names())
        assert {"widgets", "widgets_alembic_version"} <= tables
        assert "alembic_version" not in tables
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM widgets_alembic_version")).scalar_one() == "0001"
    finally:
        engine.dispose()


def test_migrate_creates_the_sqlite_directory_of_a_fresh_data_dir(tmp_path: Path) -> None:
    scripts = tmp_path / "migrations"
    (scripts / "versions").mkdir(parents=True)
    (scripts / "env.py").write_text(ENV_PY)
    (scripts / "versions" / "0001_widgets.py").write_text(REVISION)
    database = tmp_path / "fresh" / "data" / "svc.db"
    migrate(scripts, f"sqlite:///{database}", "svc_version")
    assert database.exists()


async def _connections_opened_by_bursts(db: Database, bursts: int, width: int) -> int:
    """Connections the pool opened while ``bursts`` times ``width`` sessions each held one at once."""
    opened = 0

    def _count(*_: object) -> None:
        nonlocal opened
        opened += 1

    sa.event.listen(db.engine.sync_engine, "connect", _count)
    held = asyncio.Barrier(width)

    async def one() -> None:
        async with db.session() as session:
            await session.execute(sa.text("SELECT 1"))
            await held.wait()  # every session of the burst holds its connection at once

    for _ in range(bursts):
        await asyncio.gather(*(one() for _ in range(width)))
    return opened


async def test_default_pool_keeps_the_connections_a_burst_opened(db_url: str, tmp_path: Path) -> None:
    """Bursts of maxIdleConnections sessions (10, Flyte's default: propeller's workers at once) reuse their
    connections; a wider burst opens the rest and closes them when they are returned."""
    db = create_database(DatabaseConfig(url=db_url), tmp_path / "unused.db")
    try:
        idle, most = DatabaseConfig().maxIdleConnections, DatabaseConfig().maxOpenConnections
        assert idle >= 10
        assert await _connections_opened_by_bursts(db, bursts=3, width=idle) == idle
        assert await _connections_opened_by_bursts(db, bursts=2, width=most) == 2 * (most - idle)
    finally:
        await db.dispose()


async def test_fewer_idle_connections_close_the_rest_after_each_burst(db_url: str, tmp_path: Path) -> None:
    config = DatabaseConfig.model_validate({"url": db_url, "maxIdleConnections": 2, "maxOpenConnections": 6})
    db = create_database(config, tmp_path / "unused.db")
    try:
        assert await _connections_opened_by_bursts(db, bursts=3, width=6) == 6 + 2 * 4
    finally:
        await db.dispose()


def test_idle_connections_are_capped_at_the_open_limit() -> None:
    config = DatabaseConfig.model_validate({"maxIdleConnections": 20, "maxOpenConnections": 4})
    assert (config.pool_size, config.max_overflow) == (4, 0)
    assert (DatabaseConfig(maxIdleConnections=0).pool_size, DatabaseConfig(maxIdleConnections=0).max_overflow) == (
        1,
        19,
    )
