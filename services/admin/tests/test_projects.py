"""Projects and domains over real gRPC, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from flyteidl.admin import common_pb2, project_pb2

ACTIVE, ARCHIVED = project_pb2.Project.ACTIVE, project_pb2.Project.ARCHIVED


async def register(stub: Any, project_id: str, **kwargs: Any) -> None:
    project = project_pb2.Project(id=project_id, name=kwargs.pop("name", project_id), **kwargs)
    await stub.RegisterProject(project_pb2.ProjectRegisterRequest(project=project))


async def test_seed_project_and_domains(admin_stub: Any) -> None:
    project = await admin_stub.GetProject(project_pb2.ProjectGetRequest(id="flytesnacks"))
    assert project.id == "flytesnacks" and project.state == ACTIVE
    assert [d.id for d in project.domains] == ["development", "staging", "production"]
    domains = await admin_stub.GetDomains(project_pb2.GetDomainRequest())
    assert [d.id for d in domains.domains] == ["development", "staging", "production"]


async def test_register_get_update_archive(admin_stub: Any) -> None:
    labels = common_pb2.Labels(values={"team": "ml"})
    await register(admin_stub, "alpha", description="first", labels=labels)
    got = await admin_stub.GetProject(project_pb2.ProjectGetRequest(id="alpha"))
    assert (got.name, got.description, dict(got.labels.values)) == ("alpha", "first", {"team": "ml"})

    with pytest.raises(grpc.aio.AioRpcError) as dup:
        await register(admin_stub, "alpha")
    assert dup.value.code() == grpc.StatusCode.ALREADY_EXISTS

    await admin_stub.UpdateProject(project_pb2.Project(id="alpha", name="Alpha", description="new", state=ARCHIVED))
    got = await admin_stub.GetProject(project_pb2.ProjectGetRequest(id="alpha"))
    assert (got.name, got.description, got.state, len(got.labels.values)) == ("Alpha", "new", ARCHIVED, 0)

    # Archived projects are hidden unless a filter asks for them.
    listed = await admin_stub.ListProjects(project_pb2.ProjectListRequest(limit=10))
    assert [p.id for p in listed.projects] == ["flytesnacks"]
    archived = await admin_stub.ListProjects(project_pb2.ProjectListRequest(limit=10, filters="eq(state,1)"))
    assert [p.id for p in archived.projects] == ["alpha"]


async def test_list_pagination_sort_and_filters(admin_stub: Any) -> None:
    for name in ("p-b", "p-a", "p-c"):
        await register(admin_stub, name)
    first = await admin_stub.ListProjects(project_pb2.ProjectListRequest(limit=2, filters="contains(identifier,p-)"))
    assert [p.id for p in first.projects] == ["p-a", "p-b"] and first.token == "2"
    second = await admin_stub.ListProjects(
        project_pb2.ProjectListRequest(limit=2, token=first.token, filters="contains(identifier,p-)")
    )
    assert [p.id for p in second.projects] == ["p-c"] and second.token == ""
    descending = await admin_stub.ListProjects(
        project_pb2.ProjectListRequest(
            limit=10,
            filters="value_in(identifier,p-a;p-c)",
            sort_by=common_pb2.Sort(key="identifier", direction=common_pb2.Sort.DESCENDING),
        )
    )
    assert [p.id for p in descending.projects] == ["p-c", "p-a"]
    everything = await admin_stub.ListProjects(project_pb2.ProjectListRequest())
    assert len(everything.projects) == 4


@pytest.mark.parametrize(
    ("project", "fragment"),
    [
        (project_pb2.Project(name="x"), "missing project_id"),
        (project_pb2.Project(id="Bad_Id", name="x"), "invalid project_id [Bad_Id]"),
        (project_pb2.Project(id="x" * 64, name="x"), "too long"),
        (project_pb2.Project(id="ok"), "missing project_name"),
        (project_pb2.Project(id="ok", name="x", domains=[project_pb2.Domain(id="d")]), "Domains are currently"),
        (project_pb2.Project(id="ok", name="x", labels=common_pb2.Labels(values={"bad key!": "v"})), "bad key!"),
    ],
)
async def test_register_rejects_bad_input(admin_stub: Any, project: project_pb2.Project, fragment: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await admin_stub.RegisterProject(project_pb2.ProjectRegisterRequest(project=project))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fragment in (err.value.details() or "")


async def test_unknown_project_and_bad_filters(admin_stub: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await admin_stub.GetProject(project_pb2.ProjectGetRequest(id="nope"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND and "nope" in (err.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await admin_stub.UpdateProject(project_pb2.Project(id="nope", name="n"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    for bad in ("eq(bogus,1)", "eq(state,NOPE)", "between(state,1)", "eq(state"):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await admin_stub.ListProjects(project_pb2.ProjectListRequest(limit=5, filters=bad))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert bad in (err.value.details() or "") or bad.split("(")[0] in (err.value.details() or "")
