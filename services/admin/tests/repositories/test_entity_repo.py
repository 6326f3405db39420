"""EntityRepo: immutable versions (one row per identity), version and name listing, named and description
entities."""

from __future__ import annotations

import pytest
from flyteidl.admin import common_pb2
from flyteidl.core import identifier_pb2

from aloft_admin.repositories.keys import ListQuery
from aloft_admin.repositories.models.entities import DescriptionEntityRow, NamedEntityRow, TaskRow, WorkflowRow
from aloft_admin.repositories.sql import SqlRepositories
from aloft_service.errors import AlreadyExists

from .conftest import T0, later

TASK = identifier_pb2.TASK


def task(name: str, version: str, at: float = 0, project: str = "p") -> TaskRow:
    return TaskRow(
        project=project, domain="d", name=name, version=version, org="", closure=b"c", digest=b"x", type="python",
        created_at=later(at), updated_at=later(at),
    )  # fmt: skip


def task_id(name: str, version: str) -> identifier_pb2.Identifier:
    return identifier_pb2.Identifier(resource_type=TASK, project="p", domain="d", name=name, version=version)


async def test_versions_are_unique_and_looked_up_by_identity(repos: SqlRepositories) -> None:
    async with repos.transaction() as tx:
        tx.entities.add(task("t", "v1"))
        tx.entities.add(task("t", "v1", project="other"))
    async with repos.transaction() as tx:
        row = await tx.entities.get(TaskRow, task_id("t", "v1"))
        assert row is not None and (row.project, row.closure) == ("p", b"c")
        assert await tx.entities.get(TaskRow, task_id("t", "v2")) is None
        assert await tx.entities.get(WorkflowRow, task_id("t", "v1")) is None  # kinds do not mix
    with pytest.raises(AlreadyExists):
        async with repos.transaction() as tx:
            tx.entities.add(task("t", "v1"))


async def test_versions_newest_first_and_distinct_names(repos: SqlRepositories) -> None:
    async with repos.transaction() as tx:
        for i, (name, version) in enumerate([("a", "1"), ("b", "1"), ("a", "2"), ("c", "1"), ("a", "3")]):
            tx.entities.add(task(name, version, at=i))
    named_a = common_pb2.NamedEntityIdentifier(project="p", domain="d", name="a")
    async with repos.transaction() as tx:
        rows, token = await tx.entities.list_versions(TaskRow, named_a, ListQuery(limit=2))
        assert [r.version for r in rows] == ["3", "2"] and token == "2"
        everything = common_pb2.NamedEntityIdentifier(project="p", domain="d")
        rows, _ = await tx.entities.list_versions(TaskRow, everything, ListQuery(limit=10, filters="eq(version,1)"))
        assert sorted(r.name for r in rows) == ["a", "b", "c"]
        names, token = await tx.entities.list_names(TaskRow, "p", "d", "", ListQuery(limit=10))
        assert [n.name for n in names] == ["a", "b", "c"] and token == ""
        newest_first = common_pb2.Sort(key="created_at", direction=common_pb2.Sort.DESCENDING)
        names, _ = await tx.entities.list_names(TaskRow, "p", "d", "", ListQuery(limit=10, sort_by=newest_first))
        assert [n.name for n in names] == ["a", "c", "b"]  # by each name's newest version


async def test_named_and_description_entities(repos: SqlRepositories) -> None:
    async with repos.transaction() as tx:
        for name in ("b", "a"):
            tx.entities.add(
                NamedEntityRow(resource_type=TASK, project="p", domain="d", name=name, org="", description=name,
                               created_at=T0, updated_at=T0)
            )  # fmt: skip
        for version in ("1", "2"):
            tx.entities.add(
                DescriptionEntityRow(resource_type=TASK, project="p", domain="d", name="a", version=version, org="",
                                     short_description=f"v{version}", entity=b"", created_at=later(int(version)),
                                     updated_at=T0)
            )  # fmt: skip
    async with repos.transaction() as tx:
        named = await tx.entities.get_named_entity(
            TASK, common_pb2.NamedEntityIdentifier(project="p", domain="d", name="a")
        )
        assert named is not None and named.description == "a"
        rows, _ = await tx.entities.list_named_entities(TASK, "p", "d", "", ListQuery(limit=10))
        assert [r.name for r in rows] == ["a", "b"]
        assert (await tx.entities.list_named_entities(identifier_pb2.WORKFLOW, "p", "d", "", ListQuery(limit=10)))[
            0
        ] == []
        described = await tx.entities.get_description_entity(task_id("a", "2"))
        assert described is not None and described.short_description == "v2"
        rows, _ = await tx.entities.list_description_entities(
            TASK, common_pb2.NamedEntityIdentifier(project="p", domain="d", name="a"), ListQuery(limit=10)
        )
        assert [r.version for r in rows] == ["2", "1"]
