"""One page of a List RPC: Flyte filters + sort + token pagination over a scoped statement."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flyteidl.admin import common_pb2
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aloft_admin.repositories import filters as f
from aloft_admin.repositories.keys import ListQuery

__all__ = ["ListQuery", "list_names", "list_versions", "page", "scoped"]


async def page(
    session: AsyncSession,
    stmt: Select[Any],
    query: ListQuery,
    fields: f.FieldMap,
    default_order: Sequence[Any],
    when_unfiltered: Sequence[Any] = (),
) -> tuple[list[Any], str]:
    """Rows of one page and the next token. ``when_unfiltered`` conditions apply only without request filters."""
    conditions = f.parse_filters(query.filters, fields) or list(when_unfiltered)
    stmt = f.apply_sort(f.where_all(stmt, conditions), query.sort_by, fields, default=default_order)
    return await f.paginate(session, stmt, query.limit, query.token)


def scoped(model: Any, project: str, domain: str, org: str, name: str = "") -> Select[Any]:
    stmt = select(model).where(model.project == project, model.domain == domain, model.org == org)
    return stmt.where(model.name == name) if name else stmt


async def list_versions(
    session: AsyncSession, model: Any, id: common_pb2.NamedEntityIdentifier, query: ListQuery, fields: f.FieldMap
) -> tuple[list[Any], str]:
    """Versions in one project/domain (and name, when given), newest first unless the request sorts."""
    stmt = scoped(model, id.project, id.domain, id.org, id.name)
    return await page(session, stmt, query, fields, default_order=[model.created_at.desc(), model.id.desc()])


async def list_names(
    session: AsyncSession, model: Any, project: str, domain: str, org: str, query: ListQuery, fields: f.FieldMap
) -> tuple[list[common_pb2.NamedEntityIdentifier], str]:
    """Distinct names in a project/domain; timestamps sort by each name's newest version."""
    stmt = (
        select(model.project, model.domain, model.name, model.org)
        .where(model.project == project, model.domain == domain, model.org == org)
        .group_by(model.project, model.domain, model.name, model.org)
    )
    stmt = f.where_all(stmt, f.parse_filters(query.filters, fields))
    sort_fields = {
        "name": model.name,
        "project": model.project,
        "domain": model.domain,
        "created_at": func.max(model.created_at),
        "updated_at": func.max(model.updated_at),
    }
    stmt = f.apply_sort(stmt, query.sort_by, sort_fields, default=[model.name.asc()])
    rows, token = await f.paginate(session, stmt, query.limit, query.token)
    names = [common_pb2.NamedEntityIdentifier(project=r[0], domain=r[1], name=r[2], org=r[3]) for r in rows]
    return names, token
