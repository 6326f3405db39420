"""Side rows every entity registration writes in the same transaction: the named entity and its description."""

from __future__ import annotations

from datetime import datetime

from flyteidl.admin import description_entity_pb2
from flyteidl.core import identifier_pb2
from sqlalchemy.ext.asyncio import AsyncSession

from aloft_admin.repositories.models.entities import DescriptionEntityRow, NamedEntityRow
from aloft_admin.repositories.sql import entities as repo
from aloft_admin.transformers.entities import to_named_entity_id


async def ensure_named_entity(session: AsyncSession, id: identifier_pb2.Identifier, now: datetime) -> None:
    """Named entities appear implicitly, ACTIVE with no description, on the first registration of a name."""
    named = to_named_entity_id(id)
    if await repo.find_named_entity(session, id.resource_type, named) is None:
        session.add(
            NamedEntityRow(
                resource_type=id.resource_type,
                project=id.project,
                domain=id.domain,
                name=id.name,
                org=id.org,
                description="",
                state=0,
                created_at=now,
                updated_at=now,
            )
        )


async def store_description(
    session: AsyncSession,
    id: identifier_pb2.Identifier,
    description: description_entity_pb2.DescriptionEntity | None,
    now: datetime,
) -> str:
    """Keep the description flytekit sends inside TaskSpec/WorkflowSpec; returns its short description.

    The description is versioned with its entity; a repeat registration of the same version keeps the first.
    """
    if description is None or not description.ByteSize():
        return ""
    entity = description_entity_pb2.DescriptionEntity()
    entity.CopyFrom(description)
    entity.id.CopyFrom(id)
    if await repo.find_description_entity(session, id) is None:
        session.add(
            DescriptionEntityRow(
                resource_type=id.resource_type,
                project=id.project,
                domain=id.domain,
                name=id.name,
                version=id.version,
                org=id.org,
                short_description=entity.short_description,
                entity=entity.SerializeToString(),
                created_at=now,
                updated_at=now,
            )
        )
    return entity.short_description
