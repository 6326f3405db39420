"""The OpenAPI document is generated from the same descriptors as the routes and is a valid OpenAPI 3 spec."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from aloft_admin.gateway.descriptors import all_bindings

# Storage/HTTP behaviour does not depend on the database backend: SQLite only keeps the suite fast.
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


async def test_openapi_is_valid_and_covers_every_route(admin_server: Any) -> None:
    async with httpx.AsyncClient(base_url=admin_server.http_base) as client:
        document = (await client.get("/api/v1/openapi")).json()
        alias = (await client.get("/api/v1/openapi.json")).json()
    assert document == alias
    validate(document)
    operations = {(verb.upper(), path) for path, item in document["paths"].items() for verb in item}
    assert operations == {(b.verb, b.template) for b in all_bindings()}

    get_task = document["paths"]["/api/v1/tasks/{id.project}/{id.domain}/{id.name}/{id.version}"]["get"]
    assert {p["name"] for p in get_task["parameters"] if p["in"] == "path"} == {
        "id.project",
        "id.domain",
        "id.name",
        "id.version",
    }
    assert get_task["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/flyteidl.admin.Task"
    }
    list_executions = document["paths"]["/api/v1/executions/{id.project}/{id.domain}"]["get"]
    query = {p["name"] for p in list_executions["parameters"] if p["in"] == "query"}
    assert {"limit", "token", "filters", "sort_by.key", "sort_by.direction", "id.name"} <= query
    direction = next(p for p in list_executions["parameters"] if p["name"] == "sort_by.direction")
    assert direction["schema"] == {"type": "string", "enum": ["DESCENDING", "ASCENDING"]}
    schemas = document["components"]["schemas"]
    assert schemas["flyteidl.core.Identifier"]["properties"]["resource_type"]["enum"][0] == "UNSPECIFIED"
    assert schemas["flyteidl.admin.TaskClosure"]["properties"]["created_at"] == {
        "type": "string",
        "format": "date-time",
    }
    assert "requestBody" in document["paths"]["/api/v1/tasks"]["post"]
