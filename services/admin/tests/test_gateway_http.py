"""REST gateway behaviour over HTTP: JSON shape, parameter mapping, error bodies, unknown routes, CORS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from flyteidl.admin import signal_pb2
from flyteidl.core import identifier_pb2, literals_pb2, types_pb2

from aloft_admin.gateway.rest import RPC_HEADER
from aloft_admin.server import build_deps, build_service, run_migrations
from aloft_service.runtime import ListenConfig, start_service

EXECUTION = identifier_pb2.WorkflowExecutionIdentifier(project="flytesnacks", domain="development", name="exec1")

# Storage/HTTP behaviour does not depend on the database backend: SQLite only keeps the suite fast.
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


async def _create_signals(admin_server: Any, *names: str) -> None:
    for name in names:
        await admin_server.signals.GetOrCreateSignal(
            signal_pb2.SignalGetOrCreateRequest(
                id=identifier_pb2.SignalIdentifier(execution_id=EXECUTION, signal_id=name),
                type=types_pb2.LiteralType(simple=types_pb2.BOOLEAN),
            )
        )


async def test_get_version_json_uses_proto_names(admin_server: Any) -> None:
    async with httpx.AsyncClient(base_url=admin_server.http_base) as client:
        reply = await client.get("/api/v1/version")
    assert reply.status_code == 200
    assert reply.headers[RPC_HEADER] == "flyteidl.service.AdminService/GetVersion"
    version = reply.json()["control_plane_version"]
    assert version["Version"] and version["Build"] and version["BuildTime"]


async def test_list_signals_maps_path_and_query_parameters(admin_server: Any) -> None:
    await _create_signals(admin_server, "a", "b", "c")
    path = "/api/v1/signals/flytesnacks/development/exec1"
    async with httpx.AsyncClient(base_url=admin_server.http_base) as client:
        first = await client.get(
            path, params={"limit": "2", "sort_by.key": "signal_id", "sort_by.direction": "DESCENDING"}
        )
        assert first.status_code == 200, first.text
        page = first.json()
        assert [s["id"]["signal_id"] for s in page["signals"]] == ["c", "b"]
        assert page["token"] == "2"
        # Defaults are emitted (flyteadmin's EmitUnpopulated): an unset value is present with its zero form.
        assert page["signals"][0]["id"]["execution_id"] == {
            "project": "flytesnacks",
            "domain": "development",
            "name": "exec1",
            "org": "",
        }
        rest = await client.get(path, params={"limit": 2, "token": page["token"], "sortBy.key": "signal_id"})
        assert [s["id"]["signal_id"] for s in rest.json()["signals"]] == ["a"]
        filtered = await client.get(path, params={"limit": 10, "filters": "eq(signal_id,b)"})
        assert [s["id"]["signal_id"] for s in filtered.json()["signals"]] == ["b"]


async def test_body_is_protobuf_json_and_errors_use_grpc_gateway_body(admin_server: Any) -> None:
    await _create_signals(admin_server, "approve")
    signal_id = {
        "execution_id": {"project": "flytesnacks", "domain": "development", "name": "exec1"},
        "signal_id": "approve",
    }
    async with httpx.AsyncClient(base_url=admin_server.http_base) as client:
        ok = await client.post(
            "/api/v1/signals", json={"id": signal_id, "value": {"scalar": {"primitive": {"boolean": True}}}}
        )
        assert ok.status_code == 200, ok.text
        assert ok.json() == {}
        wrong = await client.post(
            "/api/v1/signals", json={"id": signal_id, "value": {"scalar": {"primitive": {"integer": "3"}}}}
        )
        assert wrong.status_code == 400
        assert wrong.json()["code"] == 3 and wrong.json()["details"] == []
        assert "not castable" in wrong.json()["message"]
        listed = await client.get("/api/v1/signals/flytesnacks/development/exec1", params={"limit": 5})
        assert listed.json()["signals"][0]["value"]["scalar"]["primitive"]["boolean"] is True


async def test_bad_input_gets_clear_http_errors(admin_server: Any) -> None:
    async with httpx.AsyncClient(base_url=admin_server.http_base) as client:
        invalid_json = await client.post("/api/v1/signals", content=b"{not json")
        assert invalid_json.status_code == 400
        assert invalid_json.json()["code"] == 3 and "invalid JSON body" in invalid_json.json()["message"]

        unknown_field = await client.post("/api/v1/signals", json={"nope": 1})
        assert unknown_field.status_code == 400 and "nope" in unknown_field.json()["message"]

        bad_limit = await client.get("/api/v1/signals/p/d/e", params={"limit": "lots"})
        assert bad_limit.status_code == 400 and "limit" in bad_limit.json()["message"]

        bad_enum = await client.get("/api/v1/signals/p/d/e", params={"limit": 1, "sort_by.direction": "SIDEWAYS"})
        assert bad_enum.status_code == 400 and "sort_by.direction" in bad_enum.json()["message"]

        zero_limit = await client.get("/api/v1/signals/p/d/e")
        assert zero_limit.status_code == 400 and zero_limit.json()["code"] == 3

        unknown = await client.get("/api/v1/no_such_thing")
        assert unknown.status_code == 404
        assert unknown.json()["code"] == 5 and RPC_HEADER not in unknown.headers

        wrong_verb = await client.delete("/api/v1/version")
        assert wrong_verb.status_code == 405 and wrong_verb.json()["code"] == 12


async def test_literal_route_segments_beat_templates(admin_server: Any) -> None:
    async with httpx.AsyncClient(base_url=admin_server.http_base) as client:
        recover = await client.post("/api/v1/executions/recover", json={})
        relaunch = await client.post("/api/v1/executions/relaunch", json={})
        dynamic = await client.get("/api/v1/node_executions/p/d/e/n0/dynamic_workflow")
    assert recover.headers[RPC_HEADER].endswith("/RecoverExecution")
    assert relaunch.headers[RPC_HEADER].endswith("/RelaunchExecution")
    assert dynamic.headers[RPC_HEADER].endswith("/GetDynamicNodeWorkflow")


async def test_cors_preflight_allows_configured_origins(admin_server: Any) -> None:
    async with httpx.AsyncClient(base_url=admin_server.http_base) as client:
        reply = await client.options(
            "/api/v1/version",
            headers={
                "Origin": "http://console.example",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "flyte-authorization",
            },
        )
        assert reply.status_code == 200
        assert reply.headers["access-control-allow-origin"] == "*"
        assert "flyte-authorization" in reply.headers["access-control-allow-headers"].lower()
        simple = await client.get("/api/v1/version", headers={"Origin": "http://console.example"})
        assert simple.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("allow_cors", [True, False])
async def test_cors_is_configurable(tmp_path: Path, db_url: str, allow_cors: bool) -> None:
    from aloft_admin.config import AdminConfig

    config = AdminConfig.model_validate(
        {
            "stack": {"dataDir": str(tmp_path / "data")},
            "database": {"url": db_url},
            "admin": {"grpcPort": 0, "httpPort": 0, "allowCors": allow_cors, "allowedOrigins": ["http://ok.example"]},
        }
    )
    run_migrations(config)
    running = await start_service(build_service(build_deps(config)), ListenConfig(host="127.0.0.1"))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{running.http_port}") as client:
            headers = {"Access-Control-Request-Method": "GET"}
            allowed = await client.options("/api/v1/version", headers={"Origin": "http://ok.example", **headers})
            denied = await client.options("/api/v1/version", headers={"Origin": "http://evil.example", **headers})
    finally:
        await running.stop(grace=0.1)
    if allow_cors:
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "http://ok.example"
        assert denied.status_code == 400
    else:
        assert "access-control-allow-origin" not in allowed.headers
        assert "access-control-allow-origin" not in denied.headers


async def test_admin_serves_the_console_where_flytekit_links_point(admin_server: Any) -> None:
    """flytekit prints <console.endpoint>/console/projects/...; admin answers with the console calling this origin."""
    link = "/console/projects/flytesnacks/domains/development/executions/abc"
    async with httpx.AsyncClient(base_url=admin_server.http_base) as client:
        page = await client.get(link)
        root = await client.get("/console")
    assert page.status_code == 200, "the console is not built: run `make setup`"
    assert '"adminEndpoint": ""' in page.text and '"basePath": "/console"' in page.text
    assert root.status_code == 307 and root.headers["location"] == "/console/"


@pytest.mark.parametrize("base", ["", "/ui"])
async def test_the_console_path_is_configurable(tmp_path: Path, db_url: str, base: str) -> None:
    from aloft_admin.config import AdminConfig

    config = AdminConfig.model_validate(
        {
            "stack": {"dataDir": str(tmp_path / "data")},
            "database": {"url": db_url},
            "admin": {"grpcPort": 0, "httpPort": 0, "consoleBasePath": base},
        }
    )
    run_migrations(config)
    running = await start_service(build_service(build_deps(config)), ListenConfig(host="127.0.0.1"))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{running.http_port}") as client:
            console = await client.get("/console/projects")
            moved = await client.get("/ui/projects")
    finally:
        await running.stop(grace=0.1)
    assert console.status_code == 404  # the gateway's own 404 body, not the console
    assert console.json()["code"] == 5
    assert moved.status_code == (200 if base else 404)


async def test_octet_stream_speaks_binary_protobuf_like_flyteadmin(admin_server: Any) -> None:
    from flyteidl.admin import version_pb2
    from google.rpc import status_pb2

    await _create_signals(admin_server, "approve")
    proto = {"Accept": "application/octet-stream", "Content-Type": "application/octet-stream"}
    set_request = signal_pb2.SignalSetRequest(
        id=identifier_pb2.SignalIdentifier(execution_id=EXECUTION, signal_id="approve"),
        value=literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=1))),
    )
    async with httpx.AsyncClient(base_url=admin_server.http_base) as client:
        version = await client.get("/api/v1/version", headers={"Accept": "application/octet-stream"})
        assert version.headers["content-type"] == "application/octet-stream"
        parsed = version_pb2.GetVersionResponse.FromString(version.content)
        assert parsed.control_plane_version.Version
        wrong_type = await client.post("/api/v1/signals", content=set_request.SerializeToString(), headers=proto)
        assert wrong_type.status_code == 400
        status = status_pb2.Status.FromString(wrong_type.content)
        assert status.code == 3 and "not castable" in status.message
        set_request.value.scalar.primitive.boolean = True
        ok = await client.post("/api/v1/signals", content=set_request.SerializeToString(), headers=proto)
        assert (
            ok.status_code == 200
            and signal_pb2.SignalSetResponse.FromString(ok.content) == signal_pb2.SignalSetResponse()
        )
        garbage = await client.post("/api/v1/signals", content=b"\xff\xff\xff", headers=proto)
        assert garbage.status_code == 400
