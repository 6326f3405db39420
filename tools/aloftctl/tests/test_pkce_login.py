"""authType Pkce: aloftctl's browser login (authorization code + S256), its token cache and refresh before expiry.

The authorization server is a small in-process double checking what matters on the wire (the S256 challenge
against the verifier, the redirect URI, the state); the "browser" follows the authorize redirect to the callback.
The real thing (admin's server, the OIDC provider, Chromium) is tests/auth/test_pkce_cli.py."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from aloft_testing.http_double import Reply, Request, json_reply, serve_http
from aloft_testing.servers import free_port
from aloftctl.login import LoginError, PkceLogin, PublicClient, TokenCache


class _Server:
    """What the double saw and handed out."""

    def __init__(self) -> None:
        self.challenges: dict[str, str] = {}  # code → S256 challenge
        self.grants: list[str] = []
        self.issued = 0
        self.refresh_tokens: set[str] = set()

    def respond(self, request: Request) -> Reply:
        return self._authorize(request.query()) if request.method == "GET" else self._token(request.form())

    def _authorize(self, query: dict[str, str]) -> Reply:
        assert query["code_challenge_method"] == "S256" and query["response_type"] == "code"
        code = f"code-{len(self.challenges)}"
        self.challenges[code] = query["code_challenge"]
        return Reply(
            302, headers={"Location": f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"}
        )

    def _token(self, form: dict[str, str]) -> Reply:
        self.grants.append(form["grant_type"])
        ok = form.get("client_id") == "flytectl"
        if form["grant_type"] == "authorization_code":
            digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
            ok = ok and self.challenges.pop(form["code"], "") == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        else:
            ok = ok and form["refresh_token"] in self.refresh_tokens
            self.refresh_tokens.discard(form["refresh_token"])
        self.issued += ok
        refresh = f"refresh-{self.issued}"
        self.refresh_tokens.add(refresh)
        if not ok:
            return json_reply({"error": "invalid_grant"}, status=400)
        token = {"access_token": f"access-{self.issued}", "token_type": "Bearer", "expires_in": 1800}
        return json_reply({**token, "refresh_token": refresh})


@pytest.fixture
def authorization_server() -> Iterator[tuple[_Server, str]]:
    state = _Server()
    with serve_http(state.respond) as http:
        yield state, http.url


class _Browser:
    """Follows the authorize URL to the callback, in the background (as a real browser would)."""

    def __init__(self) -> None:
        self.opened: list[str] = []

    def __call__(self, url: str) -> bool:
        self.opened.append(url)
        threading.Thread(target=lambda: httpx.get(url, follow_redirects=True, timeout=10), daemon=True).start()
        return True


def _login(base: str, cache: Path, browser: Any, now: list[float], timeout: float = 10.0) -> PkceLogin:
    client = PublicClient(
        authorization_endpoint=f"{base}/authorize",
        token_endpoint=f"{base}/token",
        client_id="flytectl",
        redirect_uri=f"http://localhost:{free_port()}/callback",
        scopes=("all", "offline"),
    )
    return PkceLogin(
        client, TokenCache(cache), "admin:8089", timeout, 300.0, open_browser=browser, clock=lambda: now[0]
    )


def test_browser_login_then_cache_then_refresh_before_expiry(
    authorization_server: tuple[_Server, str], tmp_path: Path
) -> None:
    server, base = authorization_server
    cache, browser, now = tmp_path / "tokens.json", _Browser(), [1000.0]
    login = _login(base, cache, browser, now)
    assert login.cached_token() is None  # nothing cached: no browser until admin asks for a token
    assert browser.opened == []
    assert login.renewed_token() == "access-1"
    assert server.grants == ["authorization_code"] and len(browser.opened) == 1
    assert "code_challenge=" in browser.opened[0] and "code_verifier" not in browser.opened[0]
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600

    # Another process (a new PkceLogin) reuses the cached token while it is fresh ...
    now[0] = 1000.0 + 1800 - 301
    assert _login(base, cache, browser, now).cached_token() == "access-1"
    # ... and renews it with the refresh token within refreshTime of its expiry, without the browser.
    now[0] = 1000.0 + 1800 - 299
    assert _login(base, cache, browser, now).cached_token() == "access-2"
    assert server.grants == ["authorization_code", "refresh_token"] and len(browser.opened) == 1
    assert json.loads(cache.read_text())["admin:8089"]["refresh_token"] == "refresh-2"


def test_a_refused_refresh_token_falls_back_to_the_browser(
    authorization_server: tuple[_Server, str], tmp_path: Path
) -> None:
    server, base = authorization_server
    cache, browser, now = tmp_path / "tokens.json", _Browser(), [1000.0]
    TokenCache(cache).put("admin:8089", {"access_token": "old", "refresh_token": "revoked", "expires_at": 2000.0})
    assert _login(base, cache, browser, now).renewed_token() == "access-1"
    assert server.grants == ["refresh_token", "authorization_code"] and len(browser.opened) == 1


def test_no_browser_return_within_the_timeout_is_a_clear_error(
    authorization_server: tuple[_Server, str], tmp_path: Path
) -> None:
    _, base = authorization_server
    opened: list[str] = []
    login = _login(base, tmp_path / "tokens.json", lambda url: bool(opened.append(url)) or True, [0.0], timeout=0.5)
    with pytest.raises(LoginError, match=r"no login within 0\.5s"):
        login.renewed_token()
    assert len(opened) == 1
