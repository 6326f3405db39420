"""Named entities and description entities over real gRPC on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from flyteidl.admin import common_pb2, description_entity_pb2
from flyteidl.core import identifier_pb2

ARCHIVED = common_pb2.NAMED_ENTITY_ARCHIVED


async def expect_error(call: Any, code: grpc.StatusCode, fragment: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == code, err.value.details()
    assert fragment in (err.value.details() or ""), err.value.details()


def named(entities: Any, name: str) -> common_pb2.NamedEntityIdentifier:
    return common_pb2.NamedEntityIdentifier(project=entities.project, domain=entities.domain, name=name)


async def test_named_entities_created_listed_updated(admin_stub: Any, entities: Any) -> None:
    for name in ("tasks.b", "tasks.a", "tasks.c"):
        await admin_stub.CreateTask(entities.task_request(name))
    await admin_stub.CreateTask(entities.task_request("tasks.a", "v2"))  # a new version adds no new name
    listed = await admin_stub.ListNamedEntities(
        common_pb2.NamedEntityListRequest(
            resource_type=identifier_pb2.TASK, project=entities.project, domain=entities.domain, limit=2
        )
    )
    assert [e.id.name for e in listed.entities] == ["tasks.a", "tasks.b"] and listed.token == "2"

    await admin_stub.UpdateNamedEntity(
        common_pb2.NamedEntityUpdateRequest(
            resource_type=identifier_pb2.TASK,
            id=named(entities, "tasks.b"),
            metadata=common_pb2.NamedEntityMetadata(description="old task", state=ARCHIVED),
        )
    )
    got = await admin_stub.GetNamedEntity(
        common_pb2.NamedEntityGetRequest(resource_type=identifier_pb2.TASK, id=named(entities, "tasks.b"))
    )
    assert (got.metadata.description, got.metadata.state) == ("old task", ARCHIVED)
    active = await admin_stub.ListNamedEntities(
        common_pb2.NamedEntityListRequest(
            resource_type=identifier_pb2.TASK,
            project=entities.project,
            domain=entities.domain,
            limit=10,
            filters="eq(state,NAMED_ENTITY_ACTIVE)",
            sort_by=common_pb2.Sort(key="name", direction=common_pb2.Sort.DESCENDING),
        )
    )
    assert [e.id.name for e in active.entities] == ["tasks.c", "tasks.a"]
    workflows = await admin_stub.ListNamedEntities(
        common_pb2.NamedEntityListRequest(
            resource_type=identifier_pb2.WORKFLOW, project=entities.project, domain=entities.domain, limit=10
        )
    )
    assert list(workflows.entities) == []


async def test_named_entity_errors(admin_stub: Any, entities: Any) -> None:
    await expect_error(
        admin_stub.GetNamedEntity(
            common_pb2.NamedEntityGetRequest(resource_type=identifier_pb2.TASK, id=named(entities, "tasks.none"))
        ),
        grpc.StatusCode.NOT_FOUND,
        "tasks.none",
    )
    await expect_error(
        admin_stub.GetNamedEntity(
            common_pb2.NamedEntityGetRequest(resource_type=identifier_pb2.DATASET, id=named(entities, "x"))
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "resource_type",
    )
    await expect_error(
        admin_stub.UpdateNamedEntity(
            common_pb2.NamedEntityUpdateRequest(resource_type=identifier_pb2.TASK, id=named(entities, "tasks.a"))
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "missing metadata",
    )
    await expect_error(
        admin_stub.ListNamedEntities(
            common_pb2.NamedEntityListRequest(resource_type=identifier_pb2.TASK, project=entities.project, limit=5)
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "missing domain",
    )
    await expect_error(
        admin_stub.ListNamedEntities(
            common_pb2.NamedEntityListRequest(
                resource_type=identifier_pb2.TASK,
                project=entities.project,
                domain=entities.domain,
                limit=5,
                filters="gt(state,)",
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "gt(state,)",
    )


async def test_description_entities(admin_stub: Any, entities: Any) -> None:
    for version in ("v1", "v2"):
        request = entities.task_request("tasks.doc", version, description=f"short {version}")
        request.spec.description.long_description.value = f"long text {version}"
        await admin_stub.CreateTask(request)
    await admin_stub.CreateTask(entities.task_request("tasks.doc", "v3"))  # no description sent
    got = await admin_stub.GetDescriptionEntity(common_pb2.ObjectGetRequest(id=entities.task_id("tasks.doc", "v2")))
    assert (got.short_description, got.long_description.value) == ("short v2", "long text v2")
    listed = await admin_stub.ListDescriptionEntities(
        description_entity_pb2.DescriptionEntityListRequest(
            resource_type=identifier_pb2.TASK,
            id=named(entities, "tasks.doc"),
            limit=10,
            sort_by=common_pb2.Sort(key="version", direction=common_pb2.Sort.ASCENDING),
        )
    )
    assert [d.id.version for d in listed.descriptionEntities] == ["v1", "v2"]
    filtered = await admin_stub.ListDescriptionEntities(
        description_entity_pb2.DescriptionEntityListRequest(
            resource_type=identifier_pb2.TASK, id=named(entities, "tasks.doc"), limit=10, filters="eq(version,v1)"
        )
    )
    assert [d.short_description for d in filtered.descriptionEntities] == ["short v1"]
    await expect_error(
        admin_stub.GetDescriptionEntity(common_pb2.ObjectGetRequest(id=entities.task_id("tasks.doc", "v3"))),
        grpc.StatusCode.NOT_FOUND,
        "tasks.doc",
    )
    await expect_error(
        admin_stub.ListDescriptionEntities(
            description_entity_pb2.DescriptionEntityListRequest(
                resource_type=identifier_pb2.TASK, id=named(entities, ""), limit=10
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "missing name",
    )
