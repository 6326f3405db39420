"""ListTaskIds / ListWorkflowIds / ListLaunchPlanIds: one rule for the three versioned entity kinds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flyteidl.admin import common_pb2

from aloft_admin.deps import AdminDeps
from aloft_admin.repositories.sql import listing
from aloft_admin.repositories.sql.listing import ListQuery
from aloft_admin.validation.identifiers import validate_named_identifier


async def list_entity_ids(
    deps: AdminDeps, model: Any, request: common_pb2.NamedEntityIdentifierListRequest, fields: Mapping[str, Any]
) -> common_pb2.NamedEntityIdentifierList:
    """The distinct names registered in a project/domain, filtered, sorted and paged like every List RPC."""
    validate_named_identifier(
        common_pb2.NamedEntityIdentifier(project=request.project, domain=request.domain), name_required=False
    )
    async with deps.db.session() as session:
        names, token = await listing.list_names(
            session, model, request.project, request.domain, request.org, ListQuery.of(request), fields
        )
    return common_pb2.NamedEntityIdentifierList(entities=names, token=token)
