"""The shared token client against a real authorization server (cached, renewed before expiry, retried once on
UNAUTHENTICATED), and admin in External mode trusting another authorization server (here: a second admin)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from aloft_auth.client import BearerTokenInterceptor, ClientCredentialsTokenSource, TokenUnavailable
from aloft_auth.config import InternalClient
from flyteidl.admin import project_pb2
from flyteidl.service import admin_pb2_grpc, auth_pb2, auth_pb2_grpc

from aloft_testing.servers import free_port


def _source(admin: Any, tmp_path: Path, client: str, secret: str, clock: Any = None) -> ClientCredentialsTokenSource:
    path = tmp_path / f"{client}.secret"
    path.write_text(secret)
    internal = InternalClient(clientId=client, clientSecretLocation=str(path), refreshBefore="60s")
    metadata = f"{admin.http_base}/.well-known/oauth-authorization-server"
    if clock is None:
        return ClientCredentialsTokenSource(internal, metadata)
    return ClientCredentialsTokenSource(internal, metadata, clock=clock)


async def test_tokens_are_cached_and_renewed_before_they_expire(auth_admin: Any, tmp_path: Path) -> None:
    now = [1_000_000.0]
    source = _source(auth_admin, tmp_path, "flytepropeller", auth_admin.secrets["flytepropeller"], lambda: now[0])
    first = await source.token()
    assert await source.token() == first and source.fetches == 1
    now[0] += 1800 - 61  # access tokens live 30m; renewal starts 60s before the end
    assert await source.token() == first and source.fetches == 1
    now[0] += 2
    renewed = await source.token()
    assert renewed != first and source.fetches == 2


async def test_the_interceptor_sends_the_token_and_recovers_from_a_rejected_one(
    auth_admin: Any, tmp_path: Path
) -> None:
    source = _source(auth_admin, tmp_path, "flytepropeller", auth_admin.secrets["flytepropeller"])
    target = f"127.0.0.1:{auth_admin.running.grpc_port}"
    async with grpc.aio.insecure_channel(target, interceptors=[BearerTokenInterceptor(source)]) as channel:
        stub = admin_pb2_grpc.AdminServiceStub(channel)
        assert (await stub.ListProjects(project_pb2.ProjectListRequest())).projects
        source._token = "stale-or-revoked"  # e.g. signed with a key the server no longer trusts
        assert (await stub.ListProjects(project_pb2.ProjectListRequest())).projects
        assert source.fetches == 2


async def test_a_wrong_secret_yields_no_token_and_calls_fail_unauthenticated(auth_admin: Any, tmp_path: Path) -> None:
    source = _source(auth_admin, tmp_path, "flytepropeller", "wrong-secret")
    with pytest.raises(TokenUnavailable) as err:
        await source.token()
    assert "wrong-secret" not in str(err.value)
    target = f"127.0.0.1:{auth_admin.running.grpc_port}"
    async with grpc.aio.insecure_channel(target, interceptors=[BearerTokenInterceptor(source)]) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await admin_pb2_grpc.AdminServiceStub(channel).ListProjects(project_pb2.ProjectListRequest())
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_external_mode_trusts_the_external_servers_tokens(
    auth_admin: Any, tmp_path: Path, auth_admin_lifecycle: Any
) -> None:
    start, stop, _ = auth_admin_lifecycle
    idp = auth_admin.http_base  # another admin plays the organisation's authorization server
    port = free_port()
    external = {
        "enabled": True,
        "authorizedUris": [f"http://127.0.0.1:{port}"],
        "appAuth": {
            "authServerType": "External",
            "externalAuthServer": {"baseUrl": idp, "allowedAudience": [idp], "retryAttempts": 0},
        },
    }
    resource = await start(tmp_path / "resource", auth=external, port=port)
    try:
        metadata = await auth_pb2_grpc.AuthMetadataServiceStub(resource.channel).GetOAuth2Metadata(
            auth_pb2.OAuth2MetadataRequest()
        )
        assert metadata.issuer == idp and metadata.token_endpoint == f"{idp}/oauth2/token"
        async with httpx.AsyncClient() as http:
            # Admin serves no token endpoint of its own in External mode.
            assert (await http.post(f"{resource.http_base}/oauth2/token")).status_code in (404, 405)
        stub = admin_pb2_grpc.AdminServiceStub(resource.channel)
        token = await auth_admin.access_token("reader")
        listed = await stub.ListProjects(project_pb2.ProjectListRequest(), metadata=resource.bearer(token))
        assert listed.projects
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.ListProjects(project_pb2.ProjectListRequest(), metadata=resource.bearer(token + "x"))
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        await stop(resource)
