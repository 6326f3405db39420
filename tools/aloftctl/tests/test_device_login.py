"""authType DeviceFlow: aloftctl's device login (RFC 8628) — the device authorization request, the printed address
and user code, polling at the server's interval and slowing down when told, and the token cache it shares with Pkce.

The authorization server is a small in-process double answering the polls from a script; sleeping is recorded,
not done. The real thing (the test OIDC provider on Authlib, approved in Chromium) is tests/auth/test_device_flow.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from authlib.oauth2.rfc8628 import DEVICE_CODE_GRANT_TYPE

from aloft_testing.http_double import Reply, Request, json_reply, serve_http
from aloftctl.login import DeviceLogin, LoginError, PkceLogin, PublicClient, TokenCache


class _Server:
    def __init__(self) -> None:
        self.polls: list[str] = []  # the token endpoint's answers, in order: error codes, then "token"
        self.script: list[str] = []

    def respond(self, request: Request) -> Reply:
        form = request.form()
        if request.path == "/device":
            assert form["client_id"] == "flytectl" and form["scope"] == "all offline"
            return json_reply(
                {
                    "device_code": "device-code-secret",
                    "user_code": "WDJB-MJHT",
                    "verification_uri": "https://idp.example/device",
                    "verification_uri_complete": "https://idp.example/device?user_code=WDJB-MJHT",
                    "expires_in": 600,
                    "interval": 2,
                }
            )
        assert form["grant_type"] == DEVICE_CODE_GRANT_TYPE and form["device_code"] == "device-code-secret"
        assert form["client_id"] == "flytectl"
        answer = self.script.pop(0)
        self.polls.append(answer)
        if answer != "token":
            return json_reply({"error": answer}, status=400)
        return json_reply(
            {"access_token": "access-1", "token_type": "Bearer", "expires_in": 1800, "refresh_token": "r-1"}
        )


@pytest.fixture
def authorization_server() -> Iterator[tuple[_Server, str]]:
    state = _Server()
    with serve_http(state.respond) as http:
        yield state, http.url


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
