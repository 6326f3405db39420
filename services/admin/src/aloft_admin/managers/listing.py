"""List RPC plumbing shared by tasks, workflows and launch plans: scope, filters, sort, pagination."""

from __future__ import annotations

from typing import Any

from flyteidl.admin import common_pb2
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aloft_admin.repositories import filters as f
from aloft_admin.validation.identifiers import validate_named_identifier


def versioned_fields(model: Any, prefix: str) -> dict[str, Any]:
    """Filter/sort fields every versioned entity has, bare and with its entity prefix (``task.name``)."""
    fields: dict[str, Any] = {
        "project": model.project,
        "domain": model.domain,
        "name": model.name,
        "version": model.version,
        "org": model.org,
        "created_at": model.created_at,
        "updated_at": model.updated_at,
    }
    return fields | {f"{prefix}.{key}": value for key, value in fields.items()}


def _sort(request: Any) -> common_pb2.Sort | None:
    return request.sort_by if request.HasField("sort_by") else None


def scoped_stmt(model: Any, id: common_pb2.NamedEntityIdentifier) -> Select[Any]:
    stmt = select(model).where(model.project == id.project, model.domain == id.domain, model.org == id.org)
    return stmt.where(model.name == id.name) if id.name else stmt


async def list_versions(
    session: AsyncSession,
    model: Any,
    request: common_pb2.ResourceListRequest,
    fields: f.FieldMap,
    extra: list[Any] | None = None,
) -> tuple[list[Any], str]:
    """Rows of one project/domain (and name, when given), newest first unless the request sorts."""
    validate_named_identifier(request.id, name_required=False)
    stmt = f.where_all(scoped_stmt(model, request.id), f.parse_filters(request.filters, fields) + (extra or []))
    stmt = f.apply_sort(stmt, _sort(request), fields, default=[model.created_at.desc(), model.id.desc()])
    return await f.paginate(session, stmt, request.limit, request.token)


async def list_names(
    session: AsyncSession, model: Any, request: common_pb2.NamedEntityIdentifierListRequest, fields: f.FieldMap
) -> common_pb2.NamedEntityIdentifierList:
    """Distinct names registered in a project/domain (ListTaskIds, ListWorkflowIds, ListLaunchPlanIds)."""
    validate_named_identifier(
        common_pb2.NamedEntityIdentifier(project=request.project, domain=request.domain), name_required=False
    )
    stmt = (
        select(model.project, model.domain, model.name, model.org)
        .where(model.project == request.project, model.domain == request.domain, model.org == request.org)
        .group_by(model.project, model.domain, model.name, model.org)
    )
    stmt = f.where_all(stmt, f.parse_filters(request.filters, fields))
    stmt = f.apply_sort(stmt, _sort(request), _name_sort_fields(model), default=[model.name.asc()])
    rows, token = await f.paginate(session, stmt, request.limit, request.token)
    entities = [common_pb2.NamedEntityIdentifier(project=r[0], domain=r[1], name=r[2], org=r[3]) for r in rows]
    return common_pb2.NamedEntityIdentifierList(entities=entities, token=token)


def _name_sort_fields(model: Any) -> dict[str, Any]:
    # Grouped by name: timestamps sort by the newest version of each name.
    return {
        "name": model.name,
        "project": model.project,
        "domain": model.domain,
        "created_at": func.max(model.created_at),
        "updated_at": func.max(model.updated_at),
    }
