"""Repository conformance on SQLite and PostgreSQL, with an explicit clock (no sleeping): each caller runs in its own
transaction on its own connection, so PostgreSQL sees truly concurrent writers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aloft_datacatalog.config import DatacatalogConfig
from aloft_datacatalog.repositories.keys import DatasetKey, ReservationKey
from aloft_datacatalog.repositories.sql import SqlRepositories
from aloft_datacatalog.server import run_migrations
from aloft_db import create_database

T0 = datetime(2026, 1, 1, tzinfo=UTC)
KEY = ReservationKey(DatasetKey("p", "flyte_task-t", "d", "1.0-x"), "flyte_cached-abc")


@pytest.fixture
async def repos(tmp_path: Path, db_url: str) -> AsyncIterator[SqlRepositories]:
    config = DatacatalogConfig.model_validate({"stack": {"dataDir": str(tmp_path)}, "database": {"url": db_url}})
    run_migrations(config)
    db = create_database(config.database, tmp_path / "datacatalog.db")
    try:
        yield SqlRepositories(db)
    finally:
        await db.dispose()


async def _acquire(repos: SqlRepositories, owner: str, now: datetime, ttl: timedelta = timedelta(seconds=30)) -> str:
    async with repos.transaction() as tx:
        return (await tx.reservations.acquire(KEY, owner, now + ttl, now)).owner_id


async def test_concurrent_acquire_of_a_free_key_has_one_winner(repos: SqlRepositories) -> None:
    owners = [f"owner-{i}" for i in range(20)]
    answers = await asyncio.gather(*(_acquire(repos, o, T0) for o in owners))
    assert len(set(answers)) == 1
    assert sum(answer == owner for answer, owner in zip(answers, owners, strict=True)) == 1


async def test_concurrent_takeover_of_an_expired_key_has_one_winner(repos: SqlRepositories) -> None:
    assert await _acquire(repos, "crashed", T0, ttl=timedelta(seconds=3)) == "crashed"
    assert await _acquire(repos, "early", T0 + timedelta(seconds=2)) == "crashed"  # not expired yet

    later = T0 + timedelta(seconds=4)
    owners = [f"owner-{i}" for i in range(20)]
    answers = await asyncio.gather(*(_acquire(repos, o, later) for o in owners))
    winners = [owner for answer, owner in zip(answers, owners, strict=True) if answer == owner]
    assert len(winners) == 1
    assert set(answers) == {winners[0]}
    assert await _acquire(repos, "crashed", later) == winners[0]  # the old owner does not get it back


async def test_owner_extends_and_only_the_owner_deletes(repos: SqlRepositories) -> None:
    await _acquire(repos, "a", T0, ttl=timedelta(seconds=3))
    async with repos.transaction() as tx:
        row = await tx.reservations.acquire(KEY, "a", T0 + timedelta(seconds=10), T0 + timedelta(seconds=2))
    assert row.owner_id == "a"
    async with repos.transaction() as tx:
        assert not await tx.reservations.delete(KEY, "b")
        assert await tx.reservations.delete(KEY, "a")
        assert await tx.reservations.get(KEY) is None
    assert await _acquire(repos, "b", T0 + timedelta(seconds=3)) == "b"
