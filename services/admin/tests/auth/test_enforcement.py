"""With auth on, every RPC and REST route of admin refuses calls without a valid token (walked from the service
descriptors and the gateway's bindings, not a hand list); bad tokens of every kind are refused; a token of a
project-scoped client cannot read or write another project (PERMISSION_DENIED / 403)."""

from __future__ import annotations

import re
import time
from typing import Any

import grpc
import httpx
import jwt
import pytest
from aloft_auth.rbac import permission_for
from flyteidl.admin import common_pb2, execution_pb2, project_pb2
from flyteidl.service import auth_pb2, dataproxy_pb2, identity_pb2, identity_pb2_grpc
from google.protobuf import descriptor_pool
from google.protobuf.message_factory import GetMessageClass

from aloft_admin.gateway.descriptors import all_bindings
from aloft_admin.server import SERVICE_NAMES

PUBLIC_SERVICES = {auth_pb2.DESCRIPTOR.services_by_name["AuthMetadataService"].full_name}


def all_methods() -> list[tuple[str, Any]]:
    pool = descriptor_pool.Default()
    return [
        (service_name, method)
        for service_name in SERVICE_NAMES
        for method in pool.FindServiceByName(service_name).methods
    ]


async def call(channel: grpc.aio.Channel, service: str, method: Any, metadata: Any = None) -> grpc.StatusCode:
    request_type = GetMessageClass(method.input_type)
    response_type = GetMessageClass(method.output_type)
    rpc = channel.unary_unary(
        f"/{service}/{method.name}",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=response_type.FromString,
    )
    try:
        await rpc(request_type(), metadata=metadata, timeout=10)
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


async def test_every_rpc_without_a_token_is_unauthenticated(auth_admin: Any) -> None:
    methods = all_methods()
    assert len(methods) > 60  # AdminService alone has 57 RPCs: the walk found them
    for service, method in methods:
        code = await call(auth_admin.channel, service, method)
        if service in PUBLIC_SERVICES:
            assert code == grpc.StatusCode.OK, f"{service}/{method.name}: public discovery must answer ({code})"
        else:
            assert code == grpc.StatusCode.UNAUTHENTICATED, f"{service}/{method.name} answered {code}"


async def test_every_rpc_has_a_permission() -> None:
    for service, method in all_methods():
        permission = permission_for(f"/{service}/{method.name}")  # raises for an RPC with no rule
        assert (permission is None) == (service in PUBLIC_SERVICES), f"{service}/{method.name}: {permission!r}"


def _fill(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", template)


async def test_every_rest_route_without_a_token_is_401(auth_admin: Any) -> None:
    bindings = all_bindings()
    assert len(bindings) > 60
    async with httpx.AsyncClient(base_url=auth_admin.http_base) as http:
        for binding in bindings:
            reply = await http.request(binding.verb, _fill(binding.template), json={} if binding.body else None)
            if binding.service.full_name in PUBLIC_SERVICES:
                assert reply.status_code == 200, f"{binding.verb} {binding.template}: {reply.status_code}"
            else:
                assert reply.status_code == 401, f"{binding.verb} {binding.template}: {reply.status_code}"
                assert reply.json()["code"] == grpc.StatusCode.UNAUTHENTICATED.value[0]
                assert reply.headers["www-authenticate"].startswith("Bearer")


async def test_client_credentials_token_opens_grpc_and_rest(auth_admin: Any) -> None:
    reply = await auth_admin.token("flytepropeller")
    assert reply.status_code == 200 and reply.headers["cache-control"] == "no-store"
    body = reply.json()
    assert body["token_type"].lower() == "bearer" and body["expires_in"] == 1800 and "refresh_token" not in body
    token = body["access_token"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["kid"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == "flytepropeller" and claims["aud"] == [auth_admin.http_base]
    assert claims["iss"] == auth_admin.http_base

    from flyteidl.service import admin_pb2_grpc

    stub = admin_pb2_grpc.AdminServiceStub(auth_admin.channel)
    projects = await stub.ListProjects(project_pb2.ProjectListRequest(), metadata=auth_admin.bearer(token))
    assert {p.id for p in projects.projects} >= {"project-a", "project-b"}
    # The standard header works as well as Flyte's flyte-authorization.
    await stub.ListProjects(project_pb2.ProjectListRequest(), metadata=(("authorization", f"Bearer {token}"),))
    user = await identity_pb2_grpc.IdentityServiceStub(auth_admin.channel).UserInfo(
        identity_pb2.UserInfoRequest(), metadata=auth_admin.bearer(token)
    )
    assert user.subject == "flytepropeller"
    async with httpx.AsyncClient(base_url=auth_admin.http_base) as http:
        listed = await http.get("/api/v1/projects", headers={"Authorization": f"Bearer {token}"})
        assert listed.status_code == 200 and len(listed.json()["projects"]) >= 2
        me = await http.get("/me", headers={"flyte-authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["subject"] == "flytepropeller"


async def test_wrong_client_secret_gets_no_token_and_no_secret_is_logged(
    auth_admin: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    wrong = await auth_admin.token("flytepropeller", secret="not-the-secret")
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    unknown = await auth_admin.token("nobody", secret="whatever-secret")
    assert unknown.status_code == 401
    token = await auth_admin.access_token("team-a")
    text = caplog.text
    assert "token.refused client=flytepropeller" in text and "token.issued client=team-a" in text
    for secret in (*auth_admin.secrets.values(), "not-the-secret", "whatever-secret", token):
        assert secret not in text


def _signed(auth_admin: Any, **changes: Any) -> str:
    """A token signed with admin's own current key, with claims changed."""
    keys = auth_admin.deps.auth.keys
    now = int(time.time())
    claims = {
        "iss": auth_admin.http_base,
        "aud": [auth_admin.http_base],
        "sub": "flytepropeller",
        "client_id": "flytepropeller",
        "iat": now,
        "exp": now + 600,
        "scope": "all",
        **changes,
    }
    pem = keys.current.as_pem(private=True)
    return jwt.encode(claims, pem, algorithm="RS256", headers={"kid": keys.current.kid})


async def test_expired_tampered_foreign_and_wrong_audience_tokens_are_refused(auth_admin: Any) -> None:
    from flyteidl.service import admin_pb2_grpc

    stub = admin_pb2_grpc.AdminServiceStub(auth_admin.channel)
    good = _signed(auth_admin)
    await stub.ListProjects(project_pb2.ProjectListRequest(), metadata=auth_admin.bearer(good))

    real = await auth_admin.access_token("reader")
    head, payload, signature = real.split(".")
    forged_payload = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(payload).replace(b'"reader"', b'"flytepropeller"')
    ).decode()
    foreign_key = jwt.encode(
        jwt.decode(real, options={"verify_signature": False}),
        _foreign_pem(),
        algorithm="RS256",
        headers={"kid": auth_admin.deps.auth.keys.current.kid},
    )
    bad = {
        "expired": _signed(auth_admin, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600),
        "tampered": f"{head}.{forged_payload}.{signature}",
        "wrong audience": _signed(auth_admin, aud=["https://elsewhere.example.com"]),
        "wrong issuer": _signed(auth_admin, iss="https://evil.example.com"),
        "signed by another key": foreign_key,
        "unsigned": jwt.encode({"sub": "x"}, None, algorithm="none"),
        "garbage": "not-a-jwt",
    }
    for what, token in bad.items():
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.ListProjects(project_pb2.ProjectListRequest(), metadata=auth_admin.bearer(token))
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED, what
    async with httpx.AsyncClient(base_url=auth_admin.http_base) as http:
        for what, token in bad.items():
            reply = await http.get("/api/v1/projects", headers={"Authorization": f"Bearer {token}"})
            assert reply.status_code == 401, what


def _foreign_pem() -> bytes:
    from joserfc.jwk import RSAKey

    return RSAKey.generate_key(2048, private=True).as_pem(private=True)


async def test_a_token_for_project_a_cannot_read_or_launch_in_project_b(auth_admin: Any) -> None:
    from flyteidl.core import identifier_pb2
    from flyteidl.service import admin_pb2_grpc, dataproxy_pb2_grpc

    stub = admin_pb2_grpc.AdminServiceStub(auth_admin.channel)
    proxy = dataproxy_pb2_grpc.DataProxyServiceStub(auth_admin.channel)
    team_a = auth_admin.bearer(await auth_admin.access_token("team-a"))

    def list_executions(project: str) -> Any:
        return stub.ListExecutions(
            common_pb2.ResourceListRequest(
                id=common_pb2.NamedEntityIdentifier(project=project, domain="development"), limit=10
            ),
            metadata=team_a,
        )

    await list_executions("project-a")
    upload = await proxy.CreateUploadLocation(
        dataproxy_pb2.CreateUploadLocationRequest(
            project="project-a", domain="development", filename="f.txt", filename_root="r"
        ),
        metadata=team_a,
    )
    assert upload.signed_url
    denied = {
        "list executions": list_executions("project-b"),
        "upload location": proxy.CreateUploadLocation(
            dataproxy_pb2.CreateUploadLocationRequest(
                project="project-b", domain="development", filename="f.txt", filename_root="r"
            ),
            metadata=team_a,
        ),
        "download link": proxy.CreateDownloadLink(
            dataproxy_pb2.CreateDownloadLinkRequest(
                node_execution_id=identifier_pb2.NodeExecutionIdentifier(
                    node_id="n0",
                    execution_id=identifier_pb2.WorkflowExecutionIdentifier(
                        project="project-b", domain="development", name="e1"
                    ),
                )
            ),
            metadata=team_a,
        ),
        "get data": proxy.GetData(
            dataproxy_pb2.GetDataRequest(flyte_url="flyte://v1/project-b/development/e1/n0/i"), metadata=team_a
        ),
        "launch": stub.CreateExecution(
            execution_pb2.ExecutionCreateRequest(project="project-b", domain="development", name="e1"),
            metadata=team_a,
        ),
        "register a project": stub.RegisterProject(
            project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id="project-c", name="c")),
            metadata=team_a,
        ),
    }
    for what, pending in denied.items():
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await pending
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED, what
        assert "project-b" in (refused.value.details() or "") or what == "register a project"

    # A reader may list executions anywhere but not launch.
    reader = auth_admin.bearer(await auth_admin.access_token("reader"))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.CreateExecution(
            execution_pb2.ExecutionCreateRequest(project="project-a", domain="development", name="e2"),
            metadata=reader,
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED

    async with httpx.AsyncClient(base_url=auth_admin.http_base) as http:
        token = team_a[0][1]
        own = await http.get("/api/v1/executions/project-a/development?limit=5", headers={"Authorization": token})
        other = await http.get("/api/v1/executions/project-b/development?limit=5", headers={"Authorization": token})
        upload_b = await http.post(
            "/api/v1/dataproxy/artifact_urn",
            json={"project": "project-b", "domain": "development", "filename": "f", "filename_root": "r"},
            headers={"Authorization": token},
        )
    assert own.status_code == 200
    assert other.status_code == 403 and other.json()["code"] == grpc.StatusCode.PERMISSION_DENIED.value[0]
    assert upload_b.status_code == 403
