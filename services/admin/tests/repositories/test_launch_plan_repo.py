"""LaunchPlanRepo: at most one ACTIVE version per name, deactivate-then-activate, active and scheduled listings."""

from __future__ import annotations

import pytest
from flyteidl.admin import common_pb2
from flyteidl.core import identifier_pb2

from aloft_admin.repositories.keys import ListQuery
from aloft_admin.repositories.models.entities import LaunchPlanRow
from aloft_admin.repositories.sql import SqlRepositories
from aloft_service.errors import AloftError

from .conftest import T0, later

ACTIVE, INACTIVE = 1, 0


def plan(name: str, version: str, state: int = INACTIVE, schedule: str = "NONE") -> LaunchPlanRow:
    return LaunchPlanRow(
        project="p", domain="d", name=name, version=version, org="", spec=b"", closure=b"", workflow_id=1,
        state=state, digest=b"", schedule_type=schedule, created_at=T0, updated_at=T0,
    )  # fmt: skip


def _id(name: str, version: str) -> identifier_pb2.Identifier:
    kind = identifier_pb2.LAUNCH_PLAN
    return identifier_pb2.Identifier(resource_type=kind, project="p", domain="d", name=name, version=version)


def named(name: str) -> common_pb2.NamedEntityIdentifier:
    return common_pb2.NamedEntityIdentifier(project="p", domain="d", name=name)


async def test_one_active_version_per_name(repos: SqlRepositories) -> None:
    async with repos.transaction() as tx:
        tx.entities.add(plan("lp", "1", ACTIVE))
        tx.entities.add(plan("lp", "2"))
    with pytest.raises(AloftError):  # the database refuses a second ACTIVE version
        async with repos.transaction() as tx:
            tx.entities.add(plan("lp", "3", ACTIVE))
    async with repos.transaction() as tx:
        active = await tx.launch_plans.active(named("lp"))
        assert active is not None and active.version == "1"
        await tx.launch_plans.deactivate(named("lp"), later(1))
        assert await tx.launch_plans.active(named("lp")) is None
        second = await tx.entities.get(LaunchPlanRow, _id("lp", "2"))
        assert second is not None
        second.state = ACTIVE
    async with repos.transaction() as tx:
        active = await tx.launch_plans.active(named("lp"))
        assert active is not None and active.version == "2"


async def test_active_and_scheduled_listings(repos: SqlRepositories) -> None:
    async with repos.transaction() as tx:
        tx.entities.add(plan("b", "1", ACTIVE, schedule="CRON"))
        tx.entities.add(plan("a", "1", ACTIVE))
        tx.entities.add(plan("c", "1", INACTIVE, schedule="RATE"))
    async with repos.transaction() as tx:
        rows, _ = await tx.launch_plans.page_active("p", "d", "", ListQuery(limit=10))
        assert [r.name for r in rows] == ["a", "b"]
        assert [r.name for r in await tx.launch_plans.scheduled()] == ["b"]
