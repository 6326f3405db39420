"""The OpenAPI document is generated from the same descriptors as the routes and is a valid OpenAPI 3 spec."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from aloft_admin.gateway.descriptors import all_bindings
from aloft_admin.gateway.openapi import openapi_path

# Storage/HTTP behaviour does not depend on the database backend: SQLite only keeps the suite fast.
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


async def test_openapi_is_valid_and_covers_every_route(admin_server: Any) -> None:
    async with httpx.AsyncClient(base_url=admin_server.http_base) as client:
        document = (await client.get("/api/v1/openapi")).json()
        alias = (await client.get("/api/v1/openapi.json")).json()
    assert document == alias
    validate(document)
    operations = {(verb.upper(), path) for path, item in document["paths"].items() for verb in item}
    assert operations == {(b.verb, openapi_path(b)) for b in all_bindings()}

    # Dotted request-field paths become plain names (format-string safe); the description keeps the field path.
    get_task = document["paths"]["/api/v1/tasks/{id_project}/{id_domain}/{id_name}/{id_version}"]["get"]
    path_params = {p["name"]: p["description"] for p in get_task["parameters"] if p["in"] == "path"}
    assert path_params == {
        "id_project": "Request field `id.project`.",
        "id_domain": "Request field `id.domain`.",
        "id_name": "Request field `id.name`.",
        "id_version": "Request field `id.version`.",
    }
    assert get_task["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/flyteidl.admin.Task"
    }
    list_executions = document["paths"]["/api/v1/executions/{id_project}/{id_domain}"]["get"]
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
