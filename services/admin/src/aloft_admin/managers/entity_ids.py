"""ListTaskIds / ListWorkflowIds / ListLaunchPlanIds: one rule for the three versioned entity kinds."""

from __future__ import annotations

from typing import Any

from flyteidl.admin import common_pb2

from aloft_admin.repositories.base import RepositoryProvider
from aloft_admin.repositories.keys import ListQuery
from aloft_admin.validation.identifiers import validate_named_identifier


async def list_entity_ids(
    repos: RepositoryProvider, model: Any, request: common_pb2.NamedEntityIdentifierListRequest
) -> common_pb2.NamedEntityIdentifierList:
    """The distinct names registered in a project/domain, filtered, sorted and paged like every List RPC."""
    validate_named_identifier(
        common_pb2.NamedEntityIdentifier(project=request.project, domain=request.domain), name_required=False
    )
    async with repos.transaction() as tx:
        names, token = await tx.entities.list_names(
            model, request.project, request.domain, request.org, ListQuery.of(request)
        )
    return common_pb2.NamedEntityIdentifierList(entities=names, token=token)
