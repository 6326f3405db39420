"""Admin's own authorization server: discovery, JWKS, PKCE authorization codes, refresh-token rotation, signing-key
rotation, rate limiting of the token endpoint, and clear errors for bad auth config."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import grpc
import httpx
import jwt
import pytest
import sqlalchemy as sa
from aloft_auth.oauth_requests import FormRequest, authorization_response
from flyteidl.admin import project_pb2
from flyteidl.service import admin_pb2_grpc, auth_pb2, auth_pb2_grpc

from aloft_admin.auth.authserver import User
from aloft_admin.auth.keys import rotate_signing_keys
from aloft_admin.config import AdminConfig
from aloft_config import ConfigError, load_config
from aloft_testing.fixtures import database_url
from aloft_testing.servers import free_port


async def test_discovery_metadata_and_jwks_match_the_configuration(auth_admin: Any) -> None:
    base = auth_admin.http_base
    stub = auth_pb2_grpc.AuthMetadataServiceStub(auth_admin.channel)
    metadata = await stub.GetOAuth2Metadata(auth_pb2.OAuth2MetadataRequest())
    assert metadata.issuer == base and metadata.token_endpoint == f"{base}/oauth2/token"
    assert metadata.jwks_uri == f"{base}/oauth2/jwks" and "S256" in metadata.code_challenge_methods_supported
    assert set(metadata.grant_types_supported) == {"client_credentials", "authorization_code", "refresh_token"}
    client = await stub.GetPublicClientConfig(auth_pb2.PublicClientAuthConfigRequest())
    assert (client.client_id, client.authorization_metadata_key) == ("flytectl", "flyte-authorization")
    assert client.service_http_endpoint == base
    async with httpx.AsyncClient(base_url=base) as http:
        well_known = (await http.get("/.well-known/oauth-authorization-server")).json()
        jwks = (await http.get("/oauth2/jwks")).json()
    assert well_known["token_endpoint"] == metadata.token_endpoint
    assert [k["kid"] for k in jwks["keys"]] == [auth_admin.deps.auth.keys.current.kid]
    assert all("d" not in k for k in jwks["keys"])  # public halves only
    token = await auth_admin.access_token("reader")
    key = jwt.PyJWKSet.from_dict(jwks).keys[0]
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=base, issuer=base)
    assert claims["client_id"] == "reader" and claims["scope"]


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


async def _authorize(auth_admin: Any, user: User, **params: str) -> httpx.URL:
    """The authorize step for a logged-in user (the browser session an OIDC login would make)."""
    server = auth_admin.deps.auth.server
    request = FormRequest("GET", f"{auth_admin.http_base}/oauth2/authorize", {}, params, {})
    reply = await server.authorization_response(request, user)
    assert reply.status == 302, reply.body
    return httpx.URL(dict(reply.headers)["Location"])


async def test_pkce_authorization_code_then_refresh_tokens_rotate(auth_admin: Any) -> None:
    verifier, challenge = _pkce()
    common = {"client_id": "flytectl", "redirect_uri": "http://localhost:53593/callback"}
    location = await _authorize(
        auth_admin,
        User("alice", groups=("admins",), email="alice@example.com"),
        response_type="code",
        scope="all offline",
        state="st-1",
        code_challenge=challenge,
        code_challenge_method="S256",
        **common,
    )
    query = parse_qs(urlsplit(str(location)).query)
    assert query["state"] == ["st-1"]
    code = query["code"][0]
    async with httpx.AsyncClient(base_url=auth_admin.http_base) as http:
        wrong = await http.post(
            "/oauth2/token",
            data={"grant_type": "authorization_code", "code": code, "code_verifier": "x" * 50, **common},
        )
        assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
        # A failed exchange does not burn the code for its rightful holder.
        tokens = await http.post(
            "/oauth2/token",
            data={"grant_type": "authorization_code", "code": code, "code_verifier": verifier, **common},
        )
        assert tokens.status_code == 200, tokens.text
        body = tokens.json()
        replay = await http.post(
            "/oauth2/token",
            data={"grant_type": "authorization_code", "code": code, "code_verifier": verifier, **common},
        )
        assert replay.status_code == 400  # codes are single-use
        claims = jwt.decode(body["access_token"], options={"verify_signature": False})
        assert claims["sub"] == "alice" and claims["groups"] == ["admins"] and claims["client_id"] == "flytectl"
        refreshed = await http.post(
            "/oauth2/token",
            data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"], "client_id": "flytectl"},
        )
        assert refreshed.status_code == 200, refreshed.text
        assert refreshed.json()["refresh_token"] != body["refresh_token"]
        reused = await http.post(
            "/oauth2/token",
            data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"], "client_id": "flytectl"},
        )
        assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    # The user's token works, and the admins group grants platform_admin.
    stub = admin_pb2_grpc.AdminServiceStub(auth_admin.channel)
    await stub.RegisterProject(
        project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id="by-alice", name="a")),
        metadata=auth_admin.bearer(refreshed.json()["access_token"]),
    )


async def test_authorization_code_needs_pkce_and_a_registered_redirect(auth_admin: Any) -> None:
    server = auth_admin.deps.auth.server
    user = User("bob")
    base = {"client_id": "flytectl", "response_type": "code", "scope": "all"}
    no_pkce = FormRequest("GET", f"{auth_admin.http_base}/oauth2/authorize", {}, base, {})
    reply = authorization_response(server, no_pkce, user)
    # The error goes back to the client's redirect URI.
    assert reply.status == 302 and "code_challenge" in dict(reply.headers)["Location"] and "code=" not in str(reply)
    _, challenge = _pkce()
    evil = FormRequest(
        "GET",
        f"{auth_admin.http_base}/oauth2/authorize",
        {},
        {**base, "redirect_uri": "https://evil.example.com/cb", "code_challenge": challenge},
        {},
    )
    assert authorization_response(server, evil, user).status == 400
    async with httpx.AsyncClient(base_url=auth_admin.http_base) as http:
        # Over HTTP the authorize endpoint needs a logged-in user; with no user login configured it says so.
        reply = await http.get("/oauth2/authorize", params={**base, "code_challenge": challenge})
    assert reply.status_code == 400 and reply.json()["error"] == "login_required"


async def test_public_clients_cannot_use_client_credentials(auth_admin: Any) -> None:
    async with httpx.AsyncClient(base_url=auth_admin.http_base) as http:
        reply = await http.post("/oauth2/token", data={"grant_type": "client_credentials", "client_id": "flytectl"})
    assert reply.status_code in (400, 401)


async def test_signing_key_rotation_keeps_old_tokens_valid(tmp_path: Path, auth_admin_lifecycle: Any) -> None:
    start, stop, _ = auth_admin_lifecycle
    admin = await start(tmp_path)
    port = admin.running.http_port
    try:
        old_token = await admin.access_token("flytepropeller")
        old_kid = admin.deps.auth.keys.current.kid
        auth = admin.config.auth.model_dump()
    finally:
        await stop(admin)
    rotate_signing_keys("", "", tmp_path / "data")
    admin = await start(tmp_path, auth=auth, port=port)
    try:
        stub = admin_pb2_grpc.AdminServiceStub(admin.channel)
        await stub.ListProjects(project_pb2.ProjectListRequest(), metadata=admin.bearer(old_token))
        new_token = await admin.access_token("flytepropeller")
        assert jwt.get_unverified_header(new_token)["kid"] != old_kid
        async with httpx.AsyncClient(base_url=admin.http_base) as http:
            kids = [k["kid"] for k in (await http.get("/oauth2/jwks")).json()["keys"]]
        assert kids == [admin.deps.auth.keys.current.kid, old_kid]
        await stub.ListProjects(project_pb2.ProjectListRequest(), metadata=admin.bearer(new_token))
    finally:
        await stop(admin)
    # A second rotation drops the first key: its tokens are refused.
    rotate_signing_keys("", "", tmp_path / "data")
    admin = await start(tmp_path, auth=auth, port=port)
    try:
        stub = admin_pb2_grpc.AdminServiceStub(admin.channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.ListProjects(project_pb2.ProjectListRequest(), metadata=admin.bearer(old_token))
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        await stop(admin)


async def test_token_endpoint_is_rate_limited(tmp_path: Path, auth_admin_lifecycle: Any) -> None:
    start, stop, section = auth_admin_lifecycle
    from aloft_testing.servers import free_port

    port = free_port()
    admin = await start(tmp_path, auth=section(port, tokenRateLimit={"requestsPerMinute": 1, "burst": 3}), port=port)
    try:
        codes = [(await admin.token("reader", secret="wrong-guess")).status_code for _ in range(5)]
    finally:
        await stop(admin)
    assert codes[:3] == [401, 401, 401] and codes[3:] == [429, 429]


def _config(tmp_path: Path, auth: dict[str, Any]) -> Path:
    import yaml

    path = tmp_path / "aloft.yaml"
    path.write_text(yaml.safe_dump({"auth": auth}))
    return path


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ({"enabled": True}, "auth.authorizedUris"),
        (
            {
                "enabled": True,
                "authorizedUris": ["http://127.0.0.1:8088"],
                "appAuth": {"selfAuthServer": {"staticClients": {"p": {"id": "p", "client_secret": "plain"}}}},
            },
            "bcrypt hash",
        ),
        ({"enabled": True, "appAuth": {"authServerType": "External"}}, "externalAuthServer.baseUrl"),
        (
            {"enabled": True, "authorizedUris": ["http://a"], "rbac": {"subjects": {"x": ["nope"]}}},
            "unknown role",
        ),
        ({"enabled": True, "authorizedUris": ["ftp://a"]}, "not an http(s) URL"),
    ],
)
def test_bad_auth_config_is_a_clear_error(tmp_path: Path, auth: dict[str, Any], message: str) -> None:
    path = _config(tmp_path, auth)
    with pytest.raises(ConfigError) as err:
        load_config(path, AdminConfig)
    assert message in str(err.value)
    assert "plain" not in str(err.value)  # a mistaken plain secret is not echoed
    result = subprocess.run(
        [sys.executable, "-m", "aloft_admin", "--config", str(path), "check-config"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2 and message in result.stderr


def test_the_documented_auth_block_in_config_aloft_yaml_is_valid(tmp_path: Path) -> None:
    import yaml

    shipped = (Path(__file__).resolve().parents[4] / "config" / "aloft.yaml").read_text().splitlines()
    start = shipped.index("# auth:")
    block = []
    for line in shipped[start:]:
        if not line.startswith("#"):
            break
        block.append(line[2:])
    section = yaml.safe_load("\n".join(block))["auth"]
    config = AdminConfig.model_validate({"auth": section})
    assert config.auth.enabled and set(config.auth.appAuth.selfAuthServer.staticClients) == {
        "flytepropeller",
        "flytectl",
    }
    assert config.auth.rbac.subjects["ci-bot"] == ["ml_engineer"]


async def _redeem(admin: Any, **form: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=admin.http_base) as http:
        return await http.post("/oauth2/token", data={"client_id": "flytectl", **form})


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_codes_and_refresh_tokens_outlive_a_restart_work_across_replicas_and_are_used_once(
    tmp_path: Path, auth_admin_lifecycle: Any, backend: str
) -> None:
    start, stop, section = auth_admin_lifecycle
    with database_url(backend, tmp_path / "admin.db") as url:
        port = free_port()
        # Two replicas behind one public URL (the issuer): same signing keys, same database.
        replica_a = await start(tmp_path, port=port, database_url=url)
        replica_b = await start(tmp_path, auth=section(port), port=free_port(), database_url=url)
        try:
            verifier, challenge = _pkce()
            redirect = {"redirect_uri": "http://localhost:53593/callback"}
            location = await _authorize(
                replica_a,
                User("alice", groups=("admins",)),
                client_id="flytectl",
                response_type="code",
                scope="all offline",
                state="s",
                code_challenge=challenge,
                code_challenge_method="S256",
                **redirect,
            )
            code = parse_qs(urlsplit(str(location)).query)["code"][0]
            exchange = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier, **redirect}
            tokens = await _redeem(replica_b, **exchange)  # issued by A, redeemed at B
            assert tokens.status_code == 200, tokens.text
            assert (await _redeem(replica_a, **exchange)).status_code == 400  # used once, on any replica
            refresh = tokens.json()["refresh_token"]

            await stop(replica_a)  # a restart keeps refresh tokens
            replica_a = await start(tmp_path, port=port, database_url=url)
            rotated = await _redeem(replica_a, grant_type="refresh_token", refresh_token=refresh)
            assert rotated.status_code == 200, rotated.text
            assert (await _redeem(replica_b, grant_type="refresh_token", refresh_token=refresh)).status_code == 400

            # Both replicas at once with the same refresh token: exactly one gets new tokens.
            successor = rotated.json()["refresh_token"]
            raced = await asyncio.gather(
                *(_redeem(r, grant_type="refresh_token", refresh_token=successor) for r in (replica_a, replica_b))
            )
            assert sorted(r.status_code for r in raced) == [200, 400], [r.text for r in raced]
            # Only hashes are stored: the database holds no usable code or token.
            async with replica_a.deps.db.session() as session:
                stored = (await session.execute(sa.text("SELECT key_hash, payload FROM oauth_grants"))).all()
            assert stored and all(refresh not in row.key_hash + row.payload.decode() for row in stored)
        finally:
            await stop(replica_a)
            await stop(replica_b)
