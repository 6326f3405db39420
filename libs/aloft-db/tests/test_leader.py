"""AdvisoryLeader: among replicas on one PostgreSQL exactly one leads a loop; a replica that goes away (releases,
or its connection dies as when the process is killed) hands leadership to the next one that asks."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from aloft_db import DatabaseConfig, create_database
from aloft_db.leader import AdvisoryLeader
from aloft_testing.postgres import PgDatabase

pytestmark = pytest.mark.postgres


async def test_one_leader_at_a_time_and_takeover(postgres_db: PgDatabase, tmp_path: Path) -> None:
    replicas = [create_database(DatabaseConfig(url=postgres_db.sync_url), tmp_path / "x.db") for _ in range(3)]
    leaders = [AdvisoryLeader(db, "repair") for db in replicas]
    try:
        assert [await leader.is_leader() for leader in leaders] == [True, False, False]
        assert [await leader.is_leader() for leader in leaders] == [True, False, False]  # it keeps the lead
        other_loop = AdvisoryLeader(replicas[1], "another loop")
        assert await other_loop.is_leader()  # loops are led independently
        await other_loop.release()

        await leaders[0].release()
        assert [await leader.is_leader() for leader in leaders[1:]] == [True, False]

        # The leader's session dies (its replica was killed, or the connection broke): PostgreSQL frees the lock.
        # Only this test's database: suites running at the same time hold advisory locks of their own on the server.
        # The timeout makes the call wait until each backend has exited (and its lock is free), not just signal it.
        async with replicas[2].session() as session:
            await session.execute(
                text(
                    "SELECT pg_terminate_backend(pid, 5000) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                )
            )
        assert await leaders[2].is_leader()
        assert not await leaders[1].is_leader()  # it notices it lost the lock
    finally:
        for leader in leaders:
            await leader.release()
        for db in replicas:
            await db.engine.dispose()


async def test_sqlite_has_a_single_owner_that_always_leads(tmp_path: Path) -> None:
    db = create_database(DatabaseConfig(), tmp_path / "svc.db")
    try:
        assert await AdvisoryLeader(db, "repair").is_leader()
    finally:
        await db.engine.dispose()
