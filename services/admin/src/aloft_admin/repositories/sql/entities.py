"""SQL queries for entity rows (tasks, workflows, launch plans, named entities, description entities, projects).

Every function takes the caller's AsyncSession so a whole RPC is one transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from flyteidl.admin import common_pb2, project_pb2
from flyteidl.core import identifier_pb2
from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aloft_admin.repositories.filters import FieldMap, apply_sort, page_bounds, parse_filters, where_all
from aloft_admin.repositories.models.entities import (
    DescriptionEntityRow,
    LaunchPlanRow,
    NamedEntityRow,
    ProjectRow,
    TaskRow,
    WorkflowRow,
)
from aloft_admin.repositories.sql.fields import (
    DESCRIPTION_FIELDS,
    LAUNCH_PLAN_FIELDS,
    NAMED_ENTITY_FIELDS,
    PROJECT_FIELDS,
    TASK_FIELDS,
    WORKFLOW_FIELDS,
)
from aloft_admin.repositories.sql.listing import ListQuery, list_names, list_versions, page, scoped

VersionedRow = TypeVar("VersionedRow", TaskRow, WorkflowRow, LaunchPlanRow, DescriptionEntityRow)


def by_identity(model: type[VersionedRow], id: identifier_pb2.Identifier) -> Select[Any]:
    return select(model).where(
        model.project == id.project,
        model.domain == id.domain,
        model.name == id.name,
        model.version == id.version,
        model.org == id.org,
    )


def by_name(model: Any, id: common_pb2.NamedEntityIdentifier) -> Select[Any]:
    stmt = select(model).where(model.project == id.project, model.domain == id.domain, model.org == id.org)
    return stmt.where(model.name == id.name) if id.name else stmt


async def find(session: AsyncSession, model: type[VersionedRow], id: identifier_pb2.Identifier) -> VersionedRow | None:
    row: VersionedRow | None = (await session.scalars(by_identity(model, id))).first()
    return row


async def find_project(session: AsyncSession, project_id: str, org: str = "") -> ProjectRow | None:
    stmt = select(ProjectRow).where(ProjectRow.identifier == project_id, ProjectRow.org == org)
    return (await session.scalars(stmt)).first()


async def find_named_entity(
    session: AsyncSession, resource_type: int, id: common_pb2.NamedEntityIdentifier
) -> NamedEntityRow | None:
    stmt = by_name(NamedEntityRow, id).where(NamedEntityRow.resource_type == resource_type)
    return (await session.scalars(stmt)).first()


async def find_description_entity(session: AsyncSession, id: identifier_pb2.Identifier) -> DescriptionEntityRow | None:
    stmt = by_identity(DescriptionEntityRow, id).where(DescriptionEntityRow.resource_type == id.resource_type)
    row: DescriptionEntityRow | None = (await session.scalars(stmt)).first()
    return row


async def find_active_launch_plan(session: AsyncSession, id: common_pb2.NamedEntityIdentifier) -> LaunchPlanRow | None:
    stmt = by_name(LaunchPlanRow, id).where(LaunchPlanRow.state == 1)
    return (await session.scalars(stmt)).first()


async def deactivate_launch_plans(session: AsyncSession, id: common_pb2.NamedEntityIdentifier, now: datetime) -> None:
    """Set every active version of a launch plan name INACTIVE (there is at most one)."""
    await session.execute(
        update(LaunchPlanRow)
        .where(
            LaunchPlanRow.project == id.project,
            LaunchPlanRow.domain == id.domain,
            LaunchPlanRow.name == id.name,
            LaunchPlanRow.org == id.org,
            LaunchPlanRow.state == 1,
        )
        .values(state=0, updated_at=now)
    )


async def list_projects(session: AsyncSession, org: str, query: ListQuery) -> tuple[list[ProjectRow], str]:
    """Projects sorted by id; without filters archived ones are hidden (flyteadmin); limit 0 means all."""
    stmt = select(ProjectRow).where(ProjectRow.org == org)
    hide_archived = [ProjectRow.state != project_pb2.Project.ARCHIVED]
    order = [ProjectRow.identifier.asc()]
    if query.limit > 0:
        return await page(session, stmt, query, PROJECT_FIELDS, order, when_unfiltered=hide_archived)
    offset, _ = page_bounds(1, query.token)
    conditions = parse_filters(query.filters, PROJECT_FIELDS) or hide_archived
    stmt = apply_sort(where_all(stmt, conditions), query.sort_by, PROJECT_FIELDS, default=order)
    return list((await session.scalars(stmt.offset(offset))).all()), ""


async def list_named_entities(
    session: AsyncSession, resource_type: int, project: str, domain: str, org: str, query: ListQuery
) -> tuple[list[NamedEntityRow], str]:
    stmt = select(NamedEntityRow).where(
        NamedEntityRow.resource_type == resource_type,
        NamedEntityRow.project == project,
        NamedEntityRow.domain == domain,
        NamedEntityRow.org == org,
    )
    return await page(session, stmt, query, NAMED_ENTITY_FIELDS, [NamedEntityRow.name.asc()])


async def list_description_entities(
    session: AsyncSession, resource_type: int, id: common_pb2.NamedEntityIdentifier, query: ListQuery
) -> tuple[list[DescriptionEntityRow], str]:
    stmt = scoped(DescriptionEntityRow, id.project, id.domain, id.org, id.name).where(
        DescriptionEntityRow.resource_type == resource_type
    )
    order = [DescriptionEntityRow.created_at.desc(), DescriptionEntityRow.id.desc()]
    return await page(session, stmt, query, DESCRIPTION_FIELDS, order)


async def list_active_launch_plans(
    session: AsyncSession, project: str, domain: str, org: str, query: ListQuery
) -> tuple[list[LaunchPlanRow], str]:
    stmt = scoped(LaunchPlanRow, project, domain, org).where(LaunchPlanRow.state == 1)
    return await page(session, stmt, query, LAUNCH_PLAN_FIELDS, [LaunchPlanRow.name.asc()])


async def active_scheduled_launch_plans(session: AsyncSession) -> list[LaunchPlanRow]:
    """Every ACTIVE launch plan version that carries a schedule (what a scheduler must run)."""
    stmt = (
        select(LaunchPlanRow)
        .where(LaunchPlanRow.state == 1, LaunchPlanRow.schedule_type != "NONE")
        .order_by(LaunchPlanRow.project, LaunchPlanRow.domain, LaunchPlanRow.name)
    )
    return list((await session.scalars(stmt)).all())


_VERSION_FIELDS: dict[type[Any], FieldMap] = {
    TaskRow: TASK_FIELDS,
    WorkflowRow: WORKFLOW_FIELDS,
    LaunchPlanRow: LAUNCH_PLAN_FIELDS,
    DescriptionEntityRow: DESCRIPTION_FIELDS,
}


class SqlEntityRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, model: type[VersionedRow], id: identifier_pb2.Identifier) -> VersionedRow | None:
        return await find(self._session, model, id)

    def add(self, row: Any) -> None:
        self._session.add(row)

    async def list_versions(
        self, model: type[VersionedRow], id: common_pb2.NamedEntityIdentifier, query: ListQuery
    ) -> tuple[list[VersionedRow], str]:
        return await list_versions(self._session, model, id, query, _VERSION_FIELDS[model])

    async def list_names(
        self, model: type[VersionedRow], project: str, domain: str, org: str, query: ListQuery
    ) -> tuple[list[common_pb2.NamedEntityIdentifier], str]:
        return await list_names(self._session, model, project, domain, org, query, _VERSION_FIELDS[model])

    async def get_named_entity(self, resource_type: int, id: common_pb2.NamedEntityIdentifier) -> NamedEntityRow | None:
        return await find_named_entity(self._session, resource_type, id)

    async def list_named_entities(
        self, resource_type: int, project: str, domain: str, org: str, query: ListQuery
    ) -> tuple[list[NamedEntityRow], str]:
        return await list_named_entities(self._session, resource_type, project, domain, org, query)

    async def get_description_entity(self, id: identifier_pb2.Identifier) -> DescriptionEntityRow | None:
        return await find_description_entity(self._session, id)

    async def list_description_entities(
        self, resource_type: int, id: common_pb2.NamedEntityIdentifier, query: ListQuery
    ) -> tuple[list[DescriptionEntityRow], str]:
        return await list_description_entities(self._session, resource_type, id, query)


class SqlLaunchPlanRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def active(self, id: common_pb2.NamedEntityIdentifier) -> LaunchPlanRow | None:
        return await find_active_launch_plan(self._session, id)

    async def deactivate(self, id: common_pb2.NamedEntityIdentifier, now: datetime) -> None:
        await deactivate_launch_plans(self._session, id, now)

    async def page_active(
        self, project: str, domain: str, org: str, query: ListQuery
    ) -> tuple[list[LaunchPlanRow], str]:
        return await list_active_launch_plans(self._session, project, domain, org, query)

    async def scheduled(self) -> list[LaunchPlanRow]:
        return await active_scheduled_launch_plans(self._session)


class SqlProjectRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, project_id: str, org: str = "") -> ProjectRow | None:
        return await find_project(self._session, project_id, org)

    async def add(self, row: ProjectRow) -> None:
        self._session.add(row)
        await self._session.flush()

    async def page(self, org: str, query: ListQuery) -> tuple[list[ProjectRow], str]:
        return await list_projects(self._session, org, query)
