"""Auth metadata, identity and version answers (auth disabled), over gRPC and REST."""

from __future__ import annotations

from importlib import metadata
from typing import Any

import httpx
import pytest
from flyteidl.admin import version_pb2
from flyteidl.service import auth_pb2, auth_pb2_grpc, identity_pb2, identity_pb2_grpc

# Storage/HTTP behaviour does not depend on the database backend: SQLite only keeps the suite fast.
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


async def test_get_version_reports_the_installed_package(admin_server: Any) -> None:
    reply = await admin_server.admin.GetVersion(version_pb2.GetVersionRequest())
    assert reply.control_plane_version.Version == metadata.version("aloft-admin")


async def test_auth_metadata_and_public_client_config(admin_server: Any) -> None:
    stub = auth_pb2_grpc.AuthMetadataServiceStub(admin_server.channel)
    oauth = await stub.GetOAuth2Metadata(auth_pb2.OAuth2MetadataRequest())
    assert oauth.token_endpoint == f"{oauth.issuer}/oauth2/token"
    assert "client_credentials" in oauth.grant_types_supported and oauth.code_challenge_methods_supported == ["S256"]
    client = await stub.GetPublicClientConfig(auth_pb2.PublicClientAuthConfigRequest())
    assert client.client_id == "flytectl" and client.authorization_metadata_key == "flyte-authorization"


async def test_identity_is_the_anonymous_user(admin_server: Any) -> None:
    stub = identity_pb2_grpc.IdentityServiceStub(admin_server.channel)
    user = await stub.UserInfo(identity_pb2.UserInfoRequest())
    assert user.subject == "anonymous"


async def test_auth_routes_over_rest(admin_server: Any) -> None:
    async with httpx.AsyncClient(base_url=admin_server.http_base) as client:
        oauth = await client.get("/.well-known/oauth-authorization-server")
        config = await client.get("/config/v1/flyte_client")
        me = await client.get("/me")
    assert oauth.status_code == 200 and oauth.json()["authorization_endpoint"].endswith("/oauth2/authorize")
    assert config.json()["redirect_uri"] == "http://localhost:53593/callback"
    assert me.json()["preferred_username"] == "anonymous"
