"""Prepared reads (``Database.fetch``) on SQLite and PostgreSQL: the same rows and values as a session's execution
of the same statement, the pooled connection left as it was found, errors mapped as ``session()`` maps them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from aloft_db import Database, DatabaseConfig, PreparedRead, create_database
from aloft_service.errors import Unavailable
from aloft_testing.servers import free_port

metadata = sa.MetaData()
runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("owner", sa.String(63), nullable=False),
    sa.Column("name", sa.String(63), nullable=False),
    sa.Column("closure", sa.LargeBinary, nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("duration", sa.Float, nullable=False),
    sa.Column("is_parent", sa.Boolean, nullable=False),
    sa.Column("parent_id", sa.BigInteger, nullable=True),
)
# Labelled columns, as admin labels its models' columns by attribute name.
_RUNS_OF_OWNER = (
    sa.select(*(column.label(f"run_{column.key}") for column in runs.c))
    .where(runs.c.owner == sa.bindparam("owner"))
    .order_by(runs.c.id)
    .offset(sa.bindparam("page_offset"))
    .limit(sa.bindparam("page_limit"))
)
RUNS_OF_OWNER = PreparedRead(_RUNS_OF_OWNER)


def _database(db_url: str, tmp_path: Path, connections: int = 5) -> Database:
    config = DatabaseConfig.model_validate({"url": db_url, "maxIdleConnections": 1, "maxOpenConnections": connections})
    return create_database(config, tmp_path / "unused.db")


@pytest.fixture
async def db(db_url: str, tmp_path: Path) -> AsyncIterator[Database]:
    database = _database(db_url, tmp_path, connections=1)  # one pooled connection: reads and sessions share it
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    created = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
    async with database.session() as session:
        for index in range(5):
            await session.execute(
                runs.insert().values(
                    owner="a" if index != 3 else "b",
                    name=f"run-{index}",
                    closure=bytes([index, 0, 255]),
                    started_at=None if index == 0 else created + timedelta(seconds=index),
                    created_at=created - timedelta(days=400 * index),
                    duration=index * 1.25,
                    is_parent=index % 2 == 1,
                    parent_id=None if index < 2 else 2**40 + index,
                )
            )
    yield database
    await database.dispose()


async def _session_rows(db: Database, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    async with db.read_session() as session:
        return [tuple(row) for row in (await session.execute(_RUNS_OF_OWNER, params)).all()]


async def test_a_prepared_read_answers_as_a_session_does(db: Database) -> None:
    """Same rows, order and values (types included: SQLite's stored times come back as datetimes, PostgreSQL's
    with their zone, as SQLAlchemy's results give them), fields named by the column labels."""
    for params in (
        {"owner": "a", "page_offset": 0, "page_limit": 10},
        {"owner": "a", "page_offset": 1, "page_limit": 2},
        {"owner": "b", "page_offset": 0, "page_limit": 10},
        {"owner": "nobody", "page_offset": 0, "page_limit": 10},
    ):
        expected = await _session_rows(db, params)
        fetched = await db.fetch(RUNS_OF_OWNER, params)
        assert [tuple(row) for row in fetched] == expected
        assert [[type(value) for value in row] for row in fetched] == [[type(v) for v in row] for row in expected]
    first = (await db.fetch(RUNS_OF_OWNER, {"owner": "a", "page_offset": 0, "page_limit": 1}))[0]
    assert (first.run_name, first.run_closure, first.run_started_at, first.run_is_parent) == (
        "run-0",
        bytes([0, 0, 255]),
        None,
        False,
    )


def _in_transaction(driver_connection: Any) -> bool:
    info = getattr(driver_connection, "info", None)
    if info is not None:  # psycopg
        return bool(info.transaction_status != info.transaction_status.IDLE)
    return bool(driver_connection._conn.in_transaction)


async def test_a_prepared_read_leaves_its_pooled_connection_as_it_found_it(db: Database) -> None:
    """No transaction left open, PostgreSQL's connection out of autocommit again: the same (only) pooled connection
    then runs an ordinary session, whose failure still rolls its write back."""
    await db.fetch(RUNS_OF_OWNER, {"owner": "a", "page_offset": 0, "page_limit": 10})
    async with db.engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        assert not _in_transaction(driver)
        assert not getattr(driver, "autocommit", False)
    with pytest.raises(RuntimeError):
        async with db.session() as session:
            await session.execute(runs.delete())
            raise RuntimeError("caller failed after writing")
    assert len(await db.fetch(RUNS_OF_OWNER, {"owner": "a", "page_offset": 0, "page_limit": 10})) == 4


async def test_a_wrong_prepared_read_is_an_error_not_an_outage(db: Database) -> None:
    missing = PreparedRead(sa.select(sa.table("no_such_table", sa.column("x")).c.x))
    with pytest.raises(sa.exc.DBAPIError) as wrong:
        await db.fetch(missing, {})
    assert not isinstance(wrong.value, Unavailable)
    assert len(await db.fetch(RUNS_OF_OWNER, {"owner": "b", "page_offset": 0, "page_limit": 10})) == 1


def test_a_prepared_read_refuses_expanding_parameters(db_url: str, tmp_path: Path) -> None:
    among = PreparedRead(sa.select(runs.c.id).where(runs.c.name.in_(sa.bindparam("names", expanding=True))))
    with pytest.raises(ValueError, match="expanding"):
        among.compiled(_database(db_url, tmp_path).engine.dialect)


async def test_postgres_a_prepared_read_on_a_dead_connection_is_unavailable_then_replaced(postgres_db: object) -> None:
    """A pooled connection whose server side went away: the read answers UNAVAILABLE (no SQL text), the pool drops
    the connection, and the next read gets a fresh one."""
    url = postgres_db.sync_url  # type: ignore[attr-defined]
    db = create_database(
        DatabaseConfig.model_validate({"url": url, "maxIdleConnections": 1, "maxOpenConnections": 1}),
        Path("unused"),
        ping_after_idle=3600.0,  # no ping at checkout: the read itself meets the dead connection
    )
    pid = PreparedRead(sa.select(sa.func.pg_backend_pid().label("pid")))
    try:
        first = (await db.fetch(pid, {}))[0].pid
        killer = sa.create_engine(db.sync_url, poolclass=sa.pool.NullPool)
        with killer.connect() as conn:
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first}).scalar_one()
        killer.dispose()
        with pytest.raises(Unavailable) as away:
            await db.fetch(pid, {})
        assert away.value.message == "database unavailable, retry later"
        assert (await db.fetch(pid, {}))[0].pid != first
    finally:
        await db.dispose()


async def test_postgres_an_unreachable_database_is_unavailable_for_a_prepared_read(tmp_path: Path) -> None:
    db = create_database(DatabaseConfig(url=f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x"), tmp_path)
    try:
        with pytest.raises(Unavailable):
            await db.fetch(PreparedRead(sa.select(sa.literal(1).label("one"))), {})
    finally:
        await db.dispose()


async def test_reads_in_turn_share_one_pooled_connection(db: Database) -> None:
    checkouts = 0

    def _count(*_: object) -> None:
        nonlocal checkouts
        checkouts += 1

    sa.event.listen(db.engine.sync_engine, "checkout", _count)
    pages = [{"owner": owner, "page_offset": 0, "page_limit": 10} for owner in ("a", "b", "nobody")]
    answers = await db.fetch_each([(RUNS_OF_OWNER, params) for params in pages])
    assert checkouts == 1
    assert answers == [await db.fetch(RUNS_OF_OWNER, params) for params in pages]
    assert [len(rows) for rows in answers] == [4, 1, 0]
    async with db.engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        assert not _in_transaction(driver) and not getattr(driver, "autocommit", False)


_ADD_RUN = PreparedRead(
    sa.text(
        """
        WITH added AS (
            INSERT INTO runs (owner, name, closure, created_at, duration, is_parent)
            VALUES (:owner, :name, :closure, :now, 0, false) RETURNING id
        )
        SELECT id FROM added WHERE 1 / CAST(:divisor AS integer) = 1
        """
    ).columns(runs.c.id)
)


async def test_a_one_statement_write_commits_by_itself_or_not_at_all(db: Database) -> None:
    """PostgreSQL: ``write_one`` runs a data-modifying statement in autocommit (durable when it returns, nothing of
    it left when it fails); SQLite refuses it (its driver would leave the write in an open transaction)."""
    params = {"owner": "w", "name": "x", "closure": b"\x00", "now": datetime.now(UTC), "divisor": 1}
    if db.dialect != "postgresql":
        with pytest.raises(ValueError, match="PostgreSQL only"):
            await db.write_one(_ADD_RUN, params)
        return
    (added,) = await db.write_one(_ADD_RUN, params)
    with pytest.raises(sa.exc.DBAPIError):
        await db.write_one(_ADD_RUN, {**params, "name": "y", "divisor": 0})
    async with db.read_session() as session:
        owned = (await session.execute(sa.select(runs.c.id, runs.c.name).where(runs.c.owner == "w"))).all()
    assert [tuple(row) for row in owned] == [(added.id, "x")]
