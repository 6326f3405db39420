"""Repository conformance (the Protocols of repositories/base.py and their invariants) on SQLite and PostgreSQL, with
an explicit clock (no sleeping): datasets, artifacts, tags and reservations. Each caller runs in its own transaction
on its own connection, so PostgreSQL sees truly concurrent writers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aloft_datacatalog.config import DatacatalogConfig
from aloft_datacatalog.repositories.keys import ArtifactFilter, DatasetFilter, DatasetKey, Page, ReservationKey
from aloft_datacatalog.repositories.models import (
    ArtifactDataRow,
    ArtifactRow,
    DatasetRow,
    PartitionKeyRow,
    PartitionRow,
)
from aloft_datacatalog.repositories.sql import SqlRepositories
from aloft_datacatalog.server import run_migrations
from aloft_db import create_database
from aloft_service.errors import AlreadyExists

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


def _dataset(key: DatasetKey, created_at: datetime = T0, partition_keys: tuple[str, ...] = ()) -> DatasetRow:
    return DatasetRow(
        uuid=f"uuid-{key}",
        project=key.project,
        name=key.name,
        domain=key.domain,
        version=key.version,
        org=key.org,
        serialized_metadata=b"meta",
        created_at=created_at,
        partition_keys=[PartitionKeyRow(name=name, position=i) for i, name in enumerate(partition_keys)],
    )


def _artifact(
    dataset: DatasetRow, artifact_id: str, created_at: datetime = T0, partitions: dict[str, str] | None = None
) -> ArtifactRow:
    return ArtifactRow(
        dataset_id=dataset.id,
        artifact_id=artifact_id,
        serialized_metadata=b"",
        created_at=created_at,
        updated_at=created_at,
        data=[ArtifactDataRow(name="o0", position=0, location=f"blob://{artifact_id}/o0")],
        partitions=[PartitionRow(key=k, value=v) for k, v in (partitions or {}).items()],
    )


DS = DatasetKey("p", "flyte_task-t", "d", "1.0-x")
OTHER_DS = DatasetKey("p", "flyte_task-u", "d", "1.0-x")


async def _create_datasets(repos: SqlRepositories, *keys: DatasetKey) -> None:
    async with repos.transaction() as tx:
        for key in keys:
            await tx.datasets.create(_dataset(key))


async def test_datasets_are_unique_by_identity_and_read_back_whole(repos: SqlRepositories) -> None:
    async with repos.transaction() as tx:
        await tx.datasets.create(_dataset(DS, partition_keys=("region", "day")))
    with pytest.raises(AlreadyExists):
        async with repos.transaction() as tx:
            await tx.datasets.create(_dataset(DS))
    async with repos.transaction() as tx:
        await tx.datasets.create(_dataset(DatasetKey("p", "flyte_task-t", "d", "1.0-x", org="o")))  # other org
        row = await tx.datasets.get(DS)
        assert row is not None
        assert (row.uuid, row.serialized_metadata) == (f"uuid-{DS}", b"meta")
        assert [k.name for k in row.partition_keys] == ["region", "day"]
        assert await tx.datasets.get(DatasetKey("p", "flyte_task-t", "d", "2.0-x")) is None


async def test_dataset_find_filters_by_identity_columns_and_pages_by_creation_time(repos: SqlRepositories) -> None:
    async with repos.transaction() as tx:
        for i in range(5):
            await tx.datasets.create(_dataset(DatasetKey("p", f"n{i}", "d", "v"), created_at=T0 + timedelta(i)))
        await tx.datasets.create(_dataset(DatasetKey("other", "n9", "d", "v")))
    async with repos.transaction() as tx:
        newest = await tx.datasets.find(DatasetFilter({"project": "p"}), Page(limit=2))
        assert [r.name for r in newest] == ["n4", "n3"]
        assert [r.name for r in await tx.datasets.find(DatasetFilter({"project": "p"}), Page(limit=2, offset=2))] == [
            "n2",
            "n1",
        ]
        oldest = await tx.datasets.find(DatasetFilter({"project": "p"}), Page(limit=10, ascending=True))
        assert [r.name for r in oldest] == ["n0", "n1", "n2", "n3", "n4"]
        assert [r.name for r in await tx.datasets.find(DatasetFilter({"name": "n9"}), Page(limit=10))] == ["n9"]


async def test_artifact_ids_are_unique_per_dataset_and_read_back_with_data_and_partitions(
    repos: SqlRepositories,
) -> None:
    other_key = OTHER_DS
    await _create_datasets(repos, DS, other_key)
    async with repos.transaction() as tx:
        ds, other = await tx.datasets.get(DS), await tx.datasets.get(other_key)
        assert ds is not None and other is not None
        await tx.artifacts.create(_artifact(ds, "a1", partitions={"region": "eu"}))
        await tx.artifacts.create(_artifact(other, "a1"))  # the same id in another dataset is a different artifact
    with pytest.raises(AlreadyExists):
        async with repos.transaction() as tx:
            ds = await tx.datasets.get(DS)
            assert ds is not None
            await tx.artifacts.create(_artifact(ds, "a1"))
    async with repos.transaction() as tx:
        ds = await tx.datasets.get(DS)
        assert ds is not None
        row = await tx.artifacts.get(ds, "a1")
        assert row is not None
        assert [(d.name, d.location) for d in row.data] == [("o0", "blob://a1/o0")]
        assert [(p.key, p.value) for p in row.partitions] == [("region", "eu")]
        assert row.dataset.name == DS.name and row.tags == []
        assert await tx.artifacts.get(ds, "missing") is None


async def test_artifact_find_ands_partition_tag_and_id_filters(repos: SqlRepositories) -> None:
    async with repos.transaction() as tx:
        await tx.datasets.create(_dataset(DS, partition_keys=("region",)))
    async with repos.transaction() as tx:
        ds = await tx.datasets.get(DS)
        assert ds is not None
        for i, region in enumerate(["eu", "us", "eu"]):
            await tx.artifacts.create(_artifact(ds, f"a{i}", T0 + timedelta(seconds=i), {"region": region}))
    async with repos.transaction() as tx:
        ds = await tx.datasets.get(DS)
        assert ds is not None
        a0 = await tx.artifacts.get(ds, "a0")
        assert a0 is not None
        await tx.tags.put(ds, "latest", a0, T0)

    async def ids(where: ArtifactFilter, page: Page = Page(limit=10)) -> list[str]:
        async with repos.transaction() as tx:
            ds = await tx.datasets.get(DS)
            assert ds is not None
            return [r.artifact_id for r in await tx.artifacts.find(ds, where, page)]

    assert await ids(ArtifactFilter()) == ["a2", "a1", "a0"]
    assert await ids(ArtifactFilter(), Page(limit=2, offset=1, ascending=True)) == ["a1", "a2"]
    assert await ids(ArtifactFilter(partitions=(("region", "eu"),))) == ["a2", "a0"]
    assert await ids(ArtifactFilter(partitions=(("region", "eu"),), tag_names=("latest",))) == ["a0"]
    assert await ids(ArtifactFilter(partitions=(("region", "us"),), tag_names=("latest",))) == []
    assert await ids(ArtifactFilter(artifact_ids=("a1",))) == ["a1"]


async def test_a_tag_names_one_artifact_and_moves_when_put_again(repos: SqlRepositories) -> None:
    other_key = OTHER_DS
    await _create_datasets(repos, DS, other_key)
    async with repos.transaction() as tx:
        ds, other = await tx.datasets.get(DS), await tx.datasets.get(other_key)
        assert ds is not None and other is not None
        await tx.artifacts.create(_artifact(ds, "a1"))
        await tx.artifacts.create(_artifact(ds, "a2"))
        await tx.artifacts.create(_artifact(other, "b1"))
    async with repos.transaction() as tx:
        ds, other = await tx.datasets.get(DS), await tx.datasets.get(other_key)
        assert ds is not None and other is not None
        a1, b1 = await tx.artifacts.get(ds, "a1"), await tx.artifacts.get(other, "b1")
        assert a1 is not None and b1 is not None
        await tx.tags.put(ds, "t", a1, T0)
        await tx.tags.put(other, "t", b1, T0)  # tag names are per dataset
        await tx.tags.put(ds, "t", a1, T0)  # idempotent
    async with repos.transaction() as tx:
        tagged = await tx.artifacts.get_by_tag(DS, "t")
        assert tagged is not None and tagged.artifact_id == "a1"
        ds = await tx.datasets.get(DS)
        assert ds is not None
        a2 = await tx.artifacts.get(ds, "a2")
        assert a2 is not None
        await tx.tags.put(ds, "t", a2, T0 + timedelta(seconds=1))
    async with repos.transaction() as tx:
        moved, theirs = await tx.artifacts.get_by_tag(DS, "t"), await tx.artifacts.get_by_tag(other_key, "t")
        assert moved is not None and moved.artifact_id == "a2" and [t.tag_name for t in moved.tags] == ["t"]
        assert theirs is not None and theirs.artifact_id == "b1"
        assert await tx.artifacts.get_by_tag(DS, "missing") is None


async def test_replace_data_makes_the_given_entries_the_whole_data_set(repos: SqlRepositories) -> None:
    async with repos.transaction() as tx:
        await tx.datasets.create(_dataset(DS))
    async with repos.transaction() as tx:
        ds = await tx.datasets.get(DS)
        assert ds is not None
        await tx.artifacts.create(_artifact(ds, "a1"))
    later = T0 + timedelta(minutes=1)
    async with repos.transaction() as tx:
        ds = await tx.datasets.get(DS)
        assert ds is not None
        row = await tx.artifacts.get(ds, "a1")
        assert row is not None
        new = [ArtifactDataRow(name="o0", position=0, location="blob://v2/o0")]
        new.append(ArtifactDataRow(name="o1", position=1, location="blob://v2/o1"))
        await tx.artifacts.replace_data(row, new, b"new-meta", later)
    async with repos.transaction() as tx:
        ds = await tx.datasets.get(DS)
        assert ds is not None
        row = await tx.artifacts.get(ds, "a1")
        assert row is not None
        assert [(d.name, d.location) for d in row.data] == [("o0", "blob://v2/o0"), ("o1", "blob://v2/o1")]
        assert row.serialized_metadata == b"new-meta"
        assert row.updated_at.replace(tzinfo=UTC) == later
        await tx.artifacts.replace_data(row, [], None, later)  # metadata None: kept
    async with repos.transaction() as tx:
        ds = await tx.datasets.get(DS)
        assert ds is not None
        row = await tx.artifacts.get(ds, "a1")
        assert row is not None and row.data == [] and row.serialized_metadata == b"new-meta"
