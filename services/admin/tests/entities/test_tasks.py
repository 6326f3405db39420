"""CreateTask / GetTask / ListTasks / ListTaskIds over real gRPC on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from flyteidl.admin import common_pb2
from flyteidl.core import identifier_pb2, tasks_pb2


async def expect_error(call: Any, code: grpc.StatusCode, fragment: str) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == code, err.value.details()
    details = err.value.details() or ""
    assert fragment in details, details
    return details


async def test_create_get_idempotent_and_immutable(admin_stub: Any, entities: Any) -> None:
    request = entities.task_request("tasks.square", description="squares a number")
    await admin_stub.CreateTask(request)
    task = await admin_stub.GetTask(common_pb2.ObjectGetRequest(id=request.id))
    assert task.id == request.id
    assert task.closure.compiled_task.template.container.image == "python:3.11"
    assert task.closure.created_at.seconds > 0
    assert task.short_description == "squares a number"

    await expect_error(admin_stub.CreateTask(request), grpc.StatusCode.ALREADY_EXISTS, "identical structure")
    changed = entities.task_request("tasks.square", image="python:3.12")
    details = await expect_error(
        admin_stub.CreateTask(changed), grpc.StatusCode.INVALID_ARGUMENT, "different structure"
    )
    assert "image" in details and "python:3.12" in details

    description = await admin_stub.GetDescriptionEntity(common_pb2.ObjectGetRequest(id=request.id))
    assert description.short_description == "squares a number" and description.id == request.id


async def test_list_tasks_filters_sort_pagination(admin_stub: Any, entities: Any) -> None:
    for version in ("v1", "v2", "v3"):
        await admin_stub.CreateTask(entities.task_request("tasks.a", version))
    await admin_stub.CreateTask(entities.task_request("tasks.b", "v1"))
    scope = common_pb2.NamedEntityIdentifier(project=entities.project, domain=entities.domain, name="tasks.a")
    page1 = await admin_stub.ListTasks(
        common_pb2.ResourceListRequest(
            id=scope, limit=2, sort_by=common_pb2.Sort(key="version", direction=common_pb2.Sort.ASCENDING)
        )
    )
    assert [t.id.version for t in page1.tasks] == ["v1", "v2"] and page1.token == "2"
    page2 = await admin_stub.ListTasks(
        common_pb2.ResourceListRequest(
            id=scope,
            limit=2,
            token=page1.token,
            sort_by=common_pb2.Sort(key="version", direction=common_pb2.Sort.ASCENDING),
        )
    )
    assert [t.id.version for t in page2.tasks] == ["v3"] and page2.token == ""
    filtered = await admin_stub.ListTasks(
        common_pb2.ResourceListRequest(id=scope, limit=10, filters="ne(version,v2)+eq(task.name,tasks.a)")
    )
    assert sorted(t.id.version for t in filtered.tasks) == ["v1", "v3"]
    project_wide = common_pb2.NamedEntityIdentifier(project=entities.project, domain=entities.domain)
    everything = await admin_stub.ListTasks(common_pb2.ResourceListRequest(id=project_wide, limit=10))
    assert len(everything.tasks) == 4
    ids = await admin_stub.ListTaskIds(
        common_pb2.NamedEntityIdentifierListRequest(project=entities.project, domain=entities.domain, limit=10)
    )
    assert [e.name for e in ids.entities] == ["tasks.a", "tasks.b"]
    newest_first = await admin_stub.ListTaskIds(
        common_pb2.NamedEntityIdentifierListRequest(
            project=entities.project,
            domain=entities.domain,
            limit=10,
            sort_by=common_pb2.Sort(key="created_at", direction=common_pb2.Sort.DESCENDING),
        )
    )
    assert [e.name for e in newest_first.entities] == ["tasks.b", "tasks.a"]
    named = await admin_stub.GetNamedEntity(
        common_pb2.NamedEntityGetRequest(resource_type=identifier_pb2.TASK, id=scope)
    )
    assert named.id.name == "tasks.a" and named.metadata.state == common_pb2.NAMED_ENTITY_ACTIVE


async def test_bad_task_input(admin_stub: Any, entities: Any) -> None:
    bad = entities.task_request("tasks.x")
    bad.id.project = ""
    await expect_error(admin_stub.CreateTask(bad), grpc.StatusCode.INVALID_ARGUMENT, "missing project")
    unknown = entities.task_request("tasks.x")
    unknown.id.project = "nosuchproject"
    await expect_error(admin_stub.CreateTask(unknown), grpc.StatusCode.INVALID_ARGUMENT, "nosuchproject")
    bad_domain = entities.task_request("tasks.x")
    bad_domain.id.domain = "qa"
    await expect_error(admin_stub.CreateTask(bad_domain), grpc.StatusCode.INVALID_ARGUMENT, "domain [qa]")
    await expect_error(
        admin_stub.CreateTask(entities.task_request("t" * 300)), grpc.StatusCode.INVALID_ARGUMENT, "too long"
    )
    # Long flytekit-derived names (map tasks carry a hash) are fine up to the column size.
    long_name = "pkg.module.map_" + "f" * 32 + "-arraynode" + "x" * 100
    await admin_stub.CreateTask(entities.task_request(long_name))
    no_image = entities.task_request("tasks.x", image="")
    await expect_error(admin_stub.CreateTask(no_image), grpc.StatusCode.INVALID_ARGUMENT, "missing image")
    wrong_type = entities.task_request("tasks.x")
    wrong_type.id.resource_type = identifier_pb2.WORKFLOW
    await expect_error(admin_stub.CreateTask(wrong_type), grpc.StatusCode.INVALID_ARGUMENT, "resource type")
    huge = entities.task_request("tasks.x")
    huge.spec.template.container.resources.requests.add(name=tasks_pb2.Resources.MEMORY, value="1Gi")
    huge.spec.template.container.resources.limits.add(
        name=tasks_pb2.Resources.MEMORY, value="64Gi"
    )  # over the platform limit (4Gi)
    await expect_error(admin_stub.CreateTask(huge), grpc.StatusCode.INVALID_ARGUMENT, "MEMORY")
    missing = entities.task_id("tasks.none")
    await expect_error(
        admin_stub.GetTask(common_pb2.ObjectGetRequest(id=missing)), grpc.StatusCode.NOT_FOUND, "tasks.none"
    )
    scope = common_pb2.NamedEntityIdentifier(project=entities.project, domain=entities.domain)
    await expect_error(
        admin_stub.ListTasks(common_pb2.ResourceListRequest(id=scope, limit=0)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "limit",
    )
    await expect_error(
        admin_stub.ListWorkflows(
            common_pb2.ResourceListRequest(id=common_pb2.NamedEntityIdentifier(project=entities.project), limit=5)
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "missing domain",
    )
    await expect_error(
        admin_stub.ListTasks(common_pb2.ResourceListRequest(id=scope, limit=5, filters="eq(color,red)")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "eq(color,red)",
    )
    await expect_error(
        admin_stub.ListTasks(common_pb2.ResourceListRequest(id=scope, limit=5, token="abc")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "token",
    )
    # Nothing half-written: the failed creates left no rows behind.
    listed = await admin_stub.ListTasks(common_pb2.ResourceListRequest(id=scope, limit=5))
    assert [t.id.name for t in listed.tasks] == [long_name]


async def test_archived_project_rejects_registration(admin_stub: Any, entities: Any) -> None:
    from flyteidl.admin import project_pb2
    from grpc_status import rpc_status

    await admin_stub.RegisterProject(
        project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id="old", name="old"))
    )
    await admin_stub.UpdateProject(project_pb2.Project(id="old", name="old", state=project_pb2.Project.ARCHIVED))
    request = entities.task_request("tasks.late")
    request.id.project = "old"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await admin_stub.CreateTask(request)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "project [old] is not active" in (err.value.details() or "")
    status = rpc_status.from_call(err.value)  # type: ignore[arg-type]
    assert status is not None
    inactive = project_pb2.InactiveProject()
    assert status.details[0].Unpack(inactive) and inactive.id == "old"


async def test_concurrent_identical_registrations_store_one_version(admin_stub: Any, entities: Any) -> None:
    request = entities.task_request("tasks.race")
    results = await asyncio.gather(*(admin_stub.CreateTask(request) for _ in range(4)), return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(failures) == 3, results
    assert all(isinstance(e, grpc.aio.AioRpcError) and e.code() == grpc.StatusCode.ALREADY_EXISTS for e in failures)
    scope = common_pb2.NamedEntityIdentifier(project=entities.project, domain=entities.domain, name="tasks.race")
    listed = await admin_stub.ListTasks(common_pb2.ResourceListRequest(id=scope, limit=10))
    assert len(listed.tasks) == 1
