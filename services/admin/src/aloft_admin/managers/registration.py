"""What every entity registration (tasks, workflows, launch plans) does the same way, in its transaction.

- ``ensure_new_version``: versions are immutable. Registering an existing version again is ALREADY_EXISTS when
  identical ("<kind> with identical structure already exists", which pyflyte treats as success) and
  INVALID_ARGUMENT listing the differing fields otherwise (flyteadmin's wording).
- ``ensure_named_entity`` and ``store_description``: the side rows written with the entity.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from flyteidl.admin import description_entity_pb2
from flyteidl.core import identifier_pb2
from google.protobuf.message import Message

from aloft_admin.repositories.base import Repositories
from aloft_admin.repositories.models.entities import (
    DescriptionEntityRow,
    LaunchPlanRow,
    NamedEntityRow,
    TaskRow,
    WorkflowRow,
)
from aloft_admin.transformers.entities import describe_differences, name_columns, to_named_entity_id, version_columns
from aloft_service.errors import AlreadyExists, InvalidArgument

Row = TypeVar("Row", TaskRow, WorkflowRow, LaunchPlanRow)


async def ensure_new_version(
    tx: Repositories,
    kind: str,
    row_type: type[Row],
    id: identifier_pb2.Identifier,
    digest: bytes,
    new: Message,
    registered: Callable[[Row], Awaitable[Message]],
    failure_reason: Callable[[bool], Message | None] = lambda identical: None,
) -> None:
    """Raise when ``id`` is registered already: ALREADY_EXISTS if its digest equals ``digest``, else
    INVALID_ARGUMENT with the differences between ``registered(row)`` and ``new``. ``failure_reason(identical)``
    gives the error details some kinds carry (workflows: CreateWorkflowFailureReason)."""
    existing = await tx.entities.get(row_type, id)
    if existing is None:
        return
    if existing.digest == digest:
        raise AlreadyExists(f"{kind} with identical structure already exists", details=failure_reason(True))
    differences = "\n".join(describe_differences(await registered(existing), new))
    raise InvalidArgument(
        f"{id.name} {kind} with different structure already exists. "
        f"(Please register a new version of the {kind}):\n{differences}",
        details=failure_reason(False),
    )


async def ensure_named_entity(tx: Repositories, id: identifier_pb2.Identifier, now: datetime) -> None:
    """Named entities appear implicitly, ACTIVE with no description, on the first registration of a name."""
    named = to_named_entity_id(id)
    if await tx.entities.get_named_entity(id.resource_type, named) is None:
        tx.entities.add(
            NamedEntityRow(
                resource_type=id.resource_type,
                **name_columns(id),
                description="",
                state=0,
                created_at=now,
                updated_at=now,
            )
        )


async def store_description(
    tx: Repositories,
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
    if await tx.entities.get_description_entity(id) is None:
        tx.entities.add(
            DescriptionEntityRow(
                resource_type=id.resource_type,
                **version_columns(id),
                short_description=entity.short_description,
                entity=entity.SerializeToString(),
                created_at=now,
                updated_at=now,
            )
        )
    return entity.short_description
