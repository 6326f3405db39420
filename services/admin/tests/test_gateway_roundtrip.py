"""Round trips over REST for RPCs other areas implement: projects and tasks, created and read back as JSON."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from flyteidl.admin import task_pb2
from flyteidl.core import identifier_pb2, interface_pb2, tasks_pb2, types_pb2
from google.protobuf import json_format

from aloft_admin.gateway.rest import RPC_HEADER

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # persistence is tested by its owners

INT = types_pb2.LiteralType(simple=types_pb2.INTEGER)


def _task_create_json(name: str, version: str) -> dict[str, Any]:
    task_id = identifier_pb2.Identifier(
        resource_type=identifier_pb2.TASK, project="flytesnacks", domain="development", name=name, version=version
    )
    template = tasks_pb2.TaskTemplate(
        id=task_id,
        type="python-task",
        metadata=tasks_pb2.TaskMetadata(
            runtime=tasks_pb2.RuntimeMetadata(type=tasks_pb2.RuntimeMetadata.FLYTE_SDK, version="1.16.0")
        ),
        interface=interface_pb2.TypedInterface(
            inputs=interface_pb2.VariableMap(variables={"a": interface_pb2.Variable(type=INT)}),
            outputs=interface_pb2.VariableMap(variables={"o0": interface_pb2.Variable(type=INT)}),
        ),
        container=tasks_pb2.Container(image="python:3.11", args=["pyflyte-execute"]),
    )
    request = task_pb2.TaskCreateRequest(id=task_id, spec=task_pb2.TaskSpec(template=template))
    # What a REST client sends: protobuf JSON (here with camelCase names, which the gateway accepts too).
    return json_format.MessageToDict(request)


async def test_project_register_get_list_update(admin_server: Any) -> None:
    async with httpx.AsyncClient(base_url=admin_server.http_base) as client:
        created = await client.post("/api/v1/projects", json={"project": {"id": "rest-proj", "name": "REST project"}})
        assert created.status_code == 200, created.text
        fetched = await client.get("/api/v1/projects/rest-proj")
        assert fetched.status_code == 200 and fetched.json()["name"] == "REST project"
        assert {d["id"] for d in fetched.json()["domains"]} == {"development", "staging", "production"}
        updated = await client.put("/api/v1/projects/rest-proj", json={"name": "Renamed", "description": "d"})
        assert updated.status_code == 200, updated.text
        listed = await client.get("/api/v1/projects", params={"limit": 100, "filters": "eq(name,Renamed)"})
        assert [p["id"] for p in listed.json()["projects"]] == ["rest-proj"]
        again = await client.post("/api/v1/projects", json={"project": {"id": "rest-proj", "name": "x"}})
        assert again.status_code == 409 and again.json()["code"] == 6
        missing = await client.get("/api/v1/projects/nope")
        assert missing.status_code == 404 and missing.json()["code"] == 5
        assert missing.headers[RPC_HEADER] == "flyteidl.service.AdminService/GetProject"


async def test_task_create_get_and_list_with_pagination(admin_server: Any) -> None:
    async with httpx.AsyncClient(base_url=admin_server.http_base) as client:
        for version in ("v1", "v2", "v3"):
            created = await client.post("/api/v1/tasks", json=_task_create_json("rest.task", version))
            assert created.status_code == 200, created.text
        got = await client.get("/api/v1/tasks/flytesnacks/development/rest.task/v2")
        assert got.status_code == 200, got.text
        task = got.json()
        assert task["id"]["resource_type"] == "TASK" and task["id"]["version"] == "v2"
        assert task["closure"]["compiled_task"]["template"]["container"]["image"] == "python:3.11"
        params: dict[str, str | int] = {"limit": 2, "sort_by.key": "version", "sort_by.direction": "ASCENDING"}
        page = (await client.get("/api/v1/tasks/flytesnacks/development/rest.task", params=params)).json()
        assert [t["id"]["version"] for t in page["tasks"]] == ["v1", "v2"]
        rest = await client.get(
            "/api/v1/tasks/flytesnacks/development/rest.task", params={**params, "token": page["token"]}
        )
        assert [t["id"]["version"] for t in rest.json()["tasks"]] == ["v3"]
        # The additional binding without a name lists every task of the project/domain.
        by_domain = (await client.get("/api/v1/tasks/flytesnacks/development", params={"limit": 10})).json()
        assert {t["id"]["name"] for t in by_domain["tasks"]} == {"rest.task"}
        ids = (await client.get("/api/v1/task_ids/flytesnacks/development", params={"limit": 10})).json()
        assert [e["name"] for e in ids["entities"]] == ["rest.task"]
