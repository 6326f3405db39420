"""Named entities (a task/workflow/launch-plan name with a description and ACTIVE/ARCHIVED state) and
description entities (the long description flytekit sends with each task/workflow version)."""

from __future__ import annotations

from flyteidl.admin import common_pb2, description_entity_pb2
from flyteidl.core import identifier_pb2

from aloft_admin.managers import registered_entities as registered
from aloft_admin.managers.projects import ProjectDomainCheck
from aloft_admin.repositories.base import RepositoryProvider
from aloft_admin.repositories.keys import ListQuery
from aloft_admin.repositories.models.entities import NamedEntityRow
from aloft_admin.transformers import entities as transform
from aloft_admin.transformers.timestamps import Clock
from aloft_admin.validation.identifiers import missing, validate_identifier, validate_named_identifier
from aloft_service.errors import InvalidArgument, NotFound

_NAMED_RESOURCE_TYPES = (identifier_pb2.TASK, identifier_pb2.WORKFLOW, identifier_pb2.LAUNCH_PLAN)
_DESCRIBED_RESOURCE_TYPES = (identifier_pb2.TASK, identifier_pb2.WORKFLOW)


def _check_resource_type(resource_type: int, allowed: tuple[int, ...]) -> None:
    if resource_type not in allowed:
        names = ", ".join(identifier_pb2.ResourceType.Name(t) for t in allowed)  # type: ignore[arg-type]
        raise InvalidArgument(f"invalid resource_type {resource_type}: must be one of {names}")


class NamedEntityManager:
    def __init__(self, repos: RepositoryProvider, clock: Clock, projects: ProjectDomainCheck) -> None:
        self._repos = repos
        self._clock = clock
        self._projects = projects

    async def get(self, request: common_pb2.NamedEntityGetRequest) -> common_pb2.NamedEntity:
        _check_resource_type(request.resource_type, _NAMED_RESOURCE_TYPES)
        validate_named_identifier(request.id)
        async with self._repos.transaction() as tx:
            row = await tx.entities.get_named_entity(request.resource_type, request.id)
        if row is None:
            raise registered.missing_entity(request.resource_type, request.id)
        return transform.to_named_entity(row)

    async def update(self, request: common_pb2.NamedEntityUpdateRequest) -> common_pb2.NamedEntityUpdateResponse:
        _check_resource_type(request.resource_type, _NAMED_RESOURCE_TYPES)
        validate_named_identifier(request.id)
        if not request.HasField("metadata"):
            raise missing("metadata")
        async with self._repos.transaction() as tx:
            await self._projects.ensure(tx, request.id.project, request.id.domain, request.id.org)
            row = await tx.entities.get_named_entity(request.resource_type, request.id)
            now = self._clock()
            if row is None:
                row = NamedEntityRow(
                    resource_type=request.resource_type,
                    **transform.name_columns(request.id),
                    created_at=now,
                )
                tx.entities.add(row)
            row.description = request.metadata.description
            row.state = request.metadata.state
            row.updated_at = now
        return common_pb2.NamedEntityUpdateResponse()

    async def list(self, request: common_pb2.NamedEntityListRequest) -> common_pb2.NamedEntityList:
        _check_resource_type(request.resource_type, _NAMED_RESOURCE_TYPES)
        validate_named_identifier(
            common_pb2.NamedEntityIdentifier(project=request.project, domain=request.domain), name_required=False
        )
        async with self._repos.transaction() as tx:
            rows, token = await tx.entities.list_named_entities(
                request.resource_type, request.project, request.domain, request.org, ListQuery.of(request)
            )
        return common_pb2.NamedEntityList(entities=[transform.to_named_entity(r) for r in rows], token=token)


class DescriptionEntityManager:
    def __init__(self, repos: RepositoryProvider) -> None:
        self._repos = repos

    async def get(self, request: common_pb2.ObjectGetRequest) -> description_entity_pb2.DescriptionEntity:
        _check_resource_type(request.id.resource_type, _DESCRIBED_RESOURCE_TYPES)
        validate_identifier(request.id, request.id.resource_type)
        async with self._repos.transaction() as tx:
            row = await tx.entities.get_description_entity(request.id)
        if row is None:
            raise NotFound(f"missing description entity with identifier [{transform.id_text(request.id)}]")
        return transform.to_description_entity(row)

    async def list(
        self, request: description_entity_pb2.DescriptionEntityListRequest
    ) -> description_entity_pb2.DescriptionEntityList:
        _check_resource_type(request.resource_type, _DESCRIBED_RESOURCE_TYPES)
        validate_named_identifier(request.id)
        async with self._repos.transaction() as tx:
            rows, token = await tx.entities.list_description_entities(
                request.resource_type, request.id, ListQuery.of(request)
            )
        return description_entity_pb2.DescriptionEntityList(
            descriptionEntities=[transform.to_description_entity(r) for r in rows], token=token
        )
