"""authType DeviceFlow: aloftctl's device login (RFC 8628) — the device authorization request, the printed address
and user code, polling at the server's interval and slowing down when told, and the token cache it shares with Pkce.

The authorization server is a small in-process double answering the polls from a script; sleeping is recorded,
not done. The real thing (the test OIDC provider on Authlib, approved in Chromium) is tests/auth/test_device_flow.py."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from authlib.oauth2.rfc8628 import DEVICE_CODE_GRANT_TYPE

from aloftctl.login import DeviceLogin, LoginError, PkceLogin, PublicClient, TokenCache


class _Server:
    def __init__(self) -> None:
        self.polls: list[str] = []  # the token endpoint's answers, in order: error codes, then "token"
        self.script: list[str] = []
        self.forms: list[dict[str, str]] = []


def _handler(server: _Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode()).items()}
            server.forms.append(form)
            if self.path == "/device":
                assert form["client_id"] == "flytectl" and form["scope"] == "all offline"
                body: dict[str, Any] = {
                    "device_code": "device-code-secret",
                    "user_code": "WDJB-MJHT",
                    "verification_uri": "https://idp.example/device",
                    "verification_uri_complete": "https://idp.example/device?user_code=WDJB-MJHT",
                    "expires_in": 600,
                    "interval": 2,
                }
                return self._reply(200, body)
            assert form["grant_type"] == DEVICE_CODE_GRANT_TYPE and form["device_code"] == "device-code-secret"
            assert form["client_id"] == "flytectl"
            answer = server.script.pop(0)
            server.polls.append(answer)
            if answer != "token":
                return self._reply(400, {"error": answer})
            token = {"access_token": "access-1", "token_type": "Bearer", "expires_in": 1800, "refresh_token": "r-1"}
            return self._reply(200, token)

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def authorization_server() -> Iterator[tuple[_Server, str]]:
    state = _Server()
    http = HTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{http.server_address[1]}"
    finally:
        http.shutdown()
        thread.join(10)


def _client(base: str) -> PublicClient:
    return PublicClient(
        f"{base}/authorize", f"{base}/token", "flytectl", "http://localhost:1/callback", ("all", "offline")
    )


def _login(base: str, cache: Path, slept: list[float], now: list[float], timeout: float = 300.0) -> DeviceLogin:
    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    return DeviceLogin(
        _client(base), f"{base}/device", TokenCache(cache), "admin:8089", timeout, 300.0, 5.0, sleep=sleep,
        clock=lambda: now[0],
    )  # fmt: skip


def test_polls_at_the_interval_slows_down_when_told_and_caches_the_token(
    authorization_server: tuple[_Server, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server, base = authorization_server
    server.script = ["authorization_pending", "slow_down", "authorization_pending", "token"]
    slept: list[float] = []
    now = [1000.0]
    login = _login(base, tmp_path / "tokens.json", slept, now)
    assert login.renewed_token() == "access-1"
    # the server's interval (2 s, not the configured 5 s), plus 5 s for this and every later poll after slow_down
    assert slept == [2, 2, 7, 7]
    assert server.polls == ["authorization_pending", "slow_down", "authorization_pending", "token"]
    printed = capsys.readouterr()
    assert "https://idp.example/device" in printed.err and "WDJB-MJHT" in printed.err
    assert "device-code-secret" not in printed.out + printed.err and "access-1" not in printed.out + printed.err
    # The cache is the browser login's too: a Pkce login on the same cache and admin finds the token.
    pkce = PkceLogin(_client(base), TokenCache(tmp_path / "tokens.json"), "admin:8089", 10, 300, clock=lambda: now[0])
    assert pkce.cached_token() == "access-1"


@pytest.mark.parametrize("answer", ["access_denied", "expired_token"])
def test_a_refused_or_expired_code_is_a_clear_error(
    authorization_server: tuple[_Server, str], tmp_path: Path, answer: str
) -> None:
    server, base = authorization_server
    server.script = ["authorization_pending", answer]
    with pytest.raises(LoginError, match=f"the device login was refused: {answer}"):
        _login(base, tmp_path / "tokens.json", [], [0.0]).renewed_token()
    assert not (tmp_path / "tokens.json").exists()


def test_no_approval_within_the_timeout(authorization_server: tuple[_Server, str], tmp_path: Path) -> None:
    server, base = authorization_server
    server.script = ["authorization_pending"] * 10
    with pytest.raises(LoginError, match=r"WDJB-MJHT was not approved within 5s \(admin.deviceFlowConfig.timeout\)"):
        _login(base, tmp_path / "tokens.json", [], [0.0], timeout=5).renewed_token()
    assert server.polls == ["authorization_pending"] * 3  # at 2, 4 and 6 s
