"""ProjectRepo: one project per (org, id), listing sorted by id with archived projects hidden unless filtered."""

from __future__ import annotations

import pytest
from flyteidl.admin import project_pb2

from aloft_admin.repositories.keys import ListQuery
from aloft_admin.repositories.models.entities import ProjectRow
from aloft_admin.repositories.sql import SqlRepositories
from aloft_service.errors import AlreadyExists

from .conftest import T0


def project(identifier: str, state: int = project_pb2.Project.ACTIVE, org: str = "") -> ProjectRow:
    return ProjectRow(identifier=identifier, org=org, name=identifier, state=state, created_at=T0, updated_at=T0)


async def test_add_get_and_duplicates(repos: SqlRepositories) -> None:
    with pytest.raises(AlreadyExists):
        async with repos.transaction() as tx:
            await tx.projects.add(project("p1"))
            await tx.projects.add(project("p1"))  # flushed at once: nothing after it runs
            raise AssertionError("unreachable")
    async with repos.transaction() as tx:
        assert await tx.projects.get("p1") is None  # the failed transaction was rolled back as a whole
        await tx.projects.add(project("p1"))
        await tx.projects.add(project("p1", org="o"))
    async with repos.transaction() as tx:
        row = await tx.projects.get("p1")
        assert row is not None and row.org == ""
        assert (await tx.projects.get("p1", "o")) is not None
        assert await tx.projects.get("p2") is None


async def test_listing_hides_archived_unless_filtered(repos: SqlRepositories) -> None:
    async with repos.transaction() as tx:
        for name in ("c", "a", "b"):
            await tx.projects.add(project(name))
        await tx.projects.add(project("z", state=project_pb2.Project.ARCHIVED))
    async with repos.transaction() as tx:
        rows, token = await tx.projects.page("", ListQuery(limit=2))
        assert [r.identifier for r in rows] == ["a", "b"] and token == "2"
        rows, token = await tx.projects.page("", ListQuery(limit=0))  # 0: every project
        assert [r.identifier for r in rows] == ["a", "b", "c"] and token == ""
        rows, _ = await tx.projects.page("", ListQuery(limit=10, filters="eq(state,1)"))
        assert [r.identifier for r in rows] == ["z"]
