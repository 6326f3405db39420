"""Users through OpenID Connect against a real provider process (aloft_testing.oidc, built on Authlib): /login,
/callback, session cookies (HttpOnly, SameSite), CSRF on state-changing REST calls, /me, /logout, and flytectl's
PKCE login through the browser session."""

from __future__ import annotations

import base64
import hashlib
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from aloft_testing.servers import free_port, port_open

ADMIN_CLIENT_SECRET = "admin-at-the-provider-5e6f"


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """(provider port, admin HTTP port): the provider knows admin's /callback as its client's redirect URI."""
    port, admin_port = free_port(), free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aloft_testing.oidc",
            "--port",
            str(port),
            "--client-id",
            "aloft-admin",
            "--client-secret",
            ADMIN_CLIENT_SECRET,
            "--redirect-uri",
            f"http://127.0.0.1:{admin_port}/callback",
            "--user",
            "alice",
            "--groups",
            "admins",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while not port_open("127.0.0.1", port):
        assert proc.poll() is None and time.monotonic() < deadline, "the OIDC provider did not start"
        time.sleep(0.1)
    try:
        yield port, admin_port
    finally:
        proc.terminate()
        proc.wait(10)


async def _login(http: httpx.AsyncClient) -> httpx.Response:
    """A browser following /login → provider → /callback (the provider logs alice in without a form)."""
    reply = await http.get("/login", params={"redirect_url": "/console/projects"})
    for _ in range(4):
        if reply.status_code not in (302, 303):
            break
        reply = await http.get(reply.headers["location"])
        if reply.request.url.path == "/console/projects":
            break
    return reply


async def test_oidc_login_session_csrf_pkce_and_logout(
    provider: tuple[int, int], tmp_path: Path, auth_admin_lifecycle: Any
) -> None:
    start, stop, section = auth_admin_lifecycle
    port, admin_port = provider
    secret_file = tmp_path / "oidc.secret"
    secret_file.write_text(ADMIN_CLIENT_SECRET)
    auth = section(
        admin_port,
        userAuth={
            "openId": {
                "baseUrl": f"http://127.0.0.1:{port}",
                "clientId": "aloft-admin",
                "clientSecretLocation": str(secret_file),
                "scopes": ["openid", "profile", "email", "groups"],
            }
        },
    )
    admin = await start(tmp_path, auth=auth, port=admin_port)
    try:
        async with httpx.AsyncClient(base_url=admin.http_base) as http:
            assert (await http.get("/me")).status_code == 401
            landed = await _login(http)
            assert landed.request.url.path == "/console/projects"  # back where the user started (404 here: no console)
            cookies = {c.name: c for c in http.cookies.jar}
            session = cookies["aloft_session"]
            assert session.has_nonstandard_attr("HttpOnly") and "aloft_csrf" in cookies
            me_reply = await http.get("/me")
            me = me_reply.json()
            assert me["subject"] == "alice" and me["email"] == "alice@example.com"
            # The session's replies hand its CSRF token to its page (a console on another origin cannot read the
            # aloft_csrf cookie; other origins cannot read the reply).
            assert me_reply.headers["x-csrf-token"] == cookies["aloft_csrf"].value

            project = {"project": {"id": "by-browser", "name": "b"}}
            no_csrf = await http.post("/api/v1/projects", json=project)
            assert no_csrf.status_code == 403  # a cookie alone never changes state (CSRF)
            csrf = {"X-CSRF-Token": cookies["aloft_csrf"].value}
            # Another site's page cannot ride on the session, even with the token (it could not read it anyway).
            evil = {**csrf, "Origin": "https://evil.example.com"}
            assert (await http.post("/api/v1/projects", json=project, headers=evil)).status_code == 403
            own = {**csrf, "Origin": admin.http_base}
            assert (await http.post("/api/v1/projects", json=project, headers=own)).status_code == 200

            # flytectl's PKCE login rides on the browser session.
            verifier = secrets.token_urlsafe(48)
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            params = {
                "client_id": "flytectl",
                "response_type": "code",
                "redirect_uri": "http://localhost:53593/callback",
                "scope": "all offline",
                "state": "s1",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
            authorized = await http.get("/oauth2/authorize", params=params)
            assert authorized.status_code == 302
            code = parse_qs(urlsplit(authorized.headers["location"]).query)["code"][0]
            tokens = await http.post(
                "/oauth2/token",
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "code_verifier": verifier,
                    "client_id": "flytectl",
                    "redirect_uri": "http://localhost:53593/callback",
                },
            )
            assert tokens.status_code == 200, tokens.text
            access = tokens.json()["access_token"]
            async with httpx.AsyncClient(base_url=admin.http_base) as cli:
                me = await cli.get("/me", headers={"Authorization": f"Bearer {access}"})
                assert me.json()["subject"] == "alice"
                assert "x-csrf-token" not in me.headers  # a token caller has no session, hence no CSRF token

            forged = http.cookies.get("aloft_session", "") + "x"
            async with httpx.AsyncClient(base_url=admin.http_base, cookies={"aloft_session": forged}) as other:
                assert (await other.get("/me")).status_code == 401

            logout = await http.get("/logout")
            assert logout.status_code == 303
            assert (await http.get("/me")).status_code == 401

            # An open redirect is refused: the browser lands on the configured redirectUrl instead.
            hijack = await http.get("/login", params={"redirect_url": "https://evil.example.com/"})
            assert hijack.status_code == 303
    finally:
        await stop(admin)


async def test_a_console_on_an_allowed_origin_uses_the_session_with_cors_credentials(
    provider: tuple[int, int], tmp_path: Path, auth_admin_lifecycle: Any
) -> None:
    """server.security.allowedOrigins (Flyte's CORS block): the console's origin may call with the session's cookies
    and read its CSRF token from the replies; its state-changing calls still need that token."""
    start, stop, section = auth_admin_lifecycle
    port, admin_port = provider
    secret_file = tmp_path / "oidc.secret"
    secret_file.write_text(ADMIN_CLIENT_SECRET)
    console = "http://console.example"
    open_id = {
        "baseUrl": f"http://127.0.0.1:{port}",
        "clientId": "aloft-admin",
        "clientSecretLocation": str(secret_file),
        "scopes": ["openid", "profile", "email", "groups"],
    }
    auth = section(admin_port, userAuth={"openId": open_id})
    security = {"allowCors": True, "allowedOrigins": [console]}
    admin = await start(tmp_path, auth=auth, port=admin_port, server={"security": security})
    try:
        async with httpx.AsyncClient(base_url=admin.http_base) as http:
            await _login(http)
            preflight = await http.options(
                "/api/v1/projects",
                headers={
                    "Origin": console,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type,x-csrf-token",
                },
            )
            assert preflight.status_code == 200, preflight.text
            assert preflight.headers["access-control-allow-origin"] == console
            assert preflight.headers["access-control-allow-credentials"] == "true"
            assert "x-csrf-token" in preflight.headers["access-control-allow-headers"].lower()
            me = await http.get("/me", headers={"Origin": console})
            assert me.headers["access-control-allow-origin"] == console
            assert "x-csrf-token" in me.headers["access-control-expose-headers"].lower()
            token = me.headers["x-csrf-token"]
            project = {"project": {"id": "from-console", "name": "c"}}
            from_console = {"Origin": console, "X-CSRF-Token": token}
            assert (await http.post("/api/v1/projects", json=project, headers=from_console)).status_code == 200
            assert (await http.post("/api/v1/projects", json=project, headers={"Origin": console})).status_code == 403
            elsewhere = {"Origin": "http://evil.example", "X-CSRF-Token": token}
            assert (await http.post("/api/v1/projects", json=project, headers=elsewhere)).status_code == 403
    finally:
        await stop(admin)
