"""SQL for matchable attributes (the ``resources`` table): one row per scope and resource type."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from aloft_admin.repositories.keys import Scope
from aloft_admin.repositories.models.entities import MatchableAttributeRow

__all__ = ["Scope"]


async def find(session: AsyncSession, scope: Scope, resource_type: str) -> MatchableAttributeRow | None:
    stmt = select(MatchableAttributeRow).where(
        MatchableAttributeRow.org == scope.org,
        MatchableAttributeRow.project == scope.project,
        MatchableAttributeRow.domain == scope.domain,
        MatchableAttributeRow.workflow == scope.workflow,
        MatchableAttributeRow.launch_plan == scope.launch_plan,
        MatchableAttributeRow.resource_type == resource_type,
    )
    row: MatchableAttributeRow | None = (await session.scalars(stmt)).first()
    return row


def _containing(scope: Scope) -> list[ColumnElement[bool]]:
    """Rows whose scope contains ``scope``: each level matches its value or ''."""
    row_type = MatchableAttributeRow

    def level(column: InstrumentedAttribute[str], value: str) -> ColumnElement[bool]:
        return or_(column == value, column == "") if value else column == ""

    return [
        row_type.org == scope.org,
        level(row_type.project, scope.project),
        level(row_type.domain, scope.domain),
        level(row_type.workflow, scope.workflow),
        level(row_type.launch_plan, scope.launch_plan),
    ]


async def most_specific(session: AsyncSession, scope: Scope, resource_type: str) -> MatchableAttributeRow | None:
    """The highest-priority row whose scope contains ``scope``."""
    row_type = MatchableAttributeRow
    stmt = (
        select(row_type)
        .where(row_type.resource_type == resource_type, *_containing(scope))
        .order_by(row_type.priority.desc())
        .limit(1)
    )
    row: MatchableAttributeRow | None = (await session.scalars(stmt)).first()
    return row


async def most_specific_each(
    session: AsyncSession, scope: Scope, resource_types: Sequence[str]
) -> dict[str, MatchableAttributeRow]:
    """``most_specific`` for several resource types in one query (types without a row are absent)."""
    row_type = MatchableAttributeRow
    stmt = (
        select(row_type)
        .where(row_type.resource_type.in_(resource_types), *_containing(scope))
        .order_by(row_type.priority.desc())
    )
    found: dict[str, MatchableAttributeRow] = {}
    for row in (await session.scalars(stmt)).all():
        found.setdefault(row.resource_type, row)
    return found


async def list_all(session: AsyncSession, resource_type: str, org: str) -> list[MatchableAttributeRow]:
    stmt = (
        select(MatchableAttributeRow)
        .where(MatchableAttributeRow.resource_type == resource_type, MatchableAttributeRow.org == org)
        .order_by(
            MatchableAttributeRow.project,
            MatchableAttributeRow.domain,
            MatchableAttributeRow.workflow,
            MatchableAttributeRow.launch_plan,
        )
    )
    return list((await session.scalars(stmt)).all())


class SqlAttributeRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, scope: Scope, resource_type: str) -> MatchableAttributeRow | None:
        return await find(self._session, scope, resource_type)

    async def most_specific(self, scope: Scope, resource_type: str) -> MatchableAttributeRow | None:
        return await most_specific(self._session, scope, resource_type)

    async def most_specific_each(self, scope: Scope, resource_types: Sequence[str]) -> dict[str, MatchableAttributeRow]:
        return await most_specific_each(self._session, scope, resource_types)

    async def all_of_type(self, resource_type: str, org: str) -> list[MatchableAttributeRow]:
        return await list_all(self._session, resource_type, org)

    def add(self, row: MatchableAttributeRow) -> None:
        self._session.add(row)

    async def delete(self, row: MatchableAttributeRow) -> None:
        await self._session.delete(row)
