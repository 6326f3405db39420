"""Command-line users log in with PKCE through a real browser: unmodified flytekit (authType Pkce) opens admin's
/oauth2/authorize in headless Chromium ($BROWSER → aloft_testing.browser_login), which goes through admin's /login
to the test OpenID Connect provider and back to flytekit's localhost callback; flytekit then registers and runs a
workflow as alice, keeps the tokens in its keyring (a file keyring here) and, when its access token is refused,
renews it with the refresh token without opening the browser again. aloftctl's Pkce login does the same with its
own token cache, renewing a token before it expires."""

from __future__ import annotations

import json
import re
import stat
import time
import uuid
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

CLI_CLIENT = "flytectl"
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.")


def test_flytekit_pkce_login_registers_runs_and_refreshes(auth_stack: Any) -> None:
    admin = auth_stack.admin_http
    config = auth_stack.pkce_config()
    version = f"pkce-{uuid.uuid4().hex[:8]}"
    registered = auth_stack.register_flows(CLI_CLIENT, version, config=config)
    logins = auth_stack.browser_logins()
    assert registered.returncode == 0, (
        registered.stdout[-2000:] + registered.stderr[-3000:] + json.dumps(logins)[-3000:]
    )
    # One browser login, through admin's authorize endpoint, its /login, the provider and admin's /callback, ending
    # on flytekit's own callback page.
    assert len(logins) == 1, logins
    navigations = logins[0]["navigations"]
    assert logins[0]["opened"].startswith(f"{admin}/oauth2/authorize?")
    assert any(url.startswith(f"{admin}/login") for url in navigations), navigations
    assert any(url.startswith(f"{auth_stack.oidc_url}/authorize") for url in navigations), navigations
    assert any(url.startswith(f"{admin}/callback") for url in navigations), navigations
    assert logins[0]["final"].startswith(auth_stack.pkce_redirect_uri + "?code="), logins[0]
    admin_log = auth_stack.log("admin")
    assert f"token.issued client={CLI_CLIENT} grant=authorization_code subject=alice" in admin_log
    refresh_token = auth_stack.keyring("get", "refresh_token")
    assert refresh_token and auth_stack.keyring("get", "access_token")

    # A second process finds the tokens in the keyring: no new browser login.
    first = auth_stack.run_as_user(version, 2)
    assert first["output"] == 4 + 9
    assert len(auth_stack.browser_logins()) == 1

    # An access token admin refuses makes flytekit use its refresh token (rotated by admin), not the browser.
    auth_stack.keyring("set", "access_token", "not-a-valid-token")
    second = auth_stack.run_as_user(version, 3)
    assert second["output"] == 9 + 16
    assert len(auth_stack.browser_logins()) == 1
    assert f"token.issued client={CLI_CLIENT} grant=refresh_token subject=alice" in auth_stack.log("admin")
    renewed = auth_stack.keyring("get", "refresh_token")
    assert renewed and renewed != refresh_token
    # The rotated-out refresh token is spent.
    assert "token.refused client=flytectl grant=refresh_token" not in auth_stack.log("admin")


def test_aloftctl_pkce_login_caches_and_refreshes_tokens(auth_stack: Any) -> None:
    cache = auth_stack.root / "aloftctl-tokens.json"
    login = auth_stack.aloftctl_pkce_login(cache)  # flytectl's keys; tokenCacheFile is aloftctl's own
    config, listed, before, logins = login.config, login.listed, login.logins_before, login.logins
    assert len(logins) == 1 and logins[0]["final"].startswith(auth_stack.pkce_redirect_uri + "?code="), logins
    assert any(url.startswith(f"{auth_stack.admin_http}/login") for url in logins[0]["navigations"])
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    key = f"127.0.0.1:{auth_stack.ports['admin_grpc']}"
    first = json.loads(cache.read_text())[key]
    assert first["refresh_token"] and first["expires_at"] > time.time()

    # The cached token serves the next command: no browser, no token request.
    issued = auth_stack.log("admin").count(f"token.issued client={CLI_CLIENT}")
    assert auth_stack.aloftctl(config, "get", "projects").returncode == 0
    assert auth_stack.log("admin").count(f"token.issued client={CLI_CLIENT}") == issued

    # A token about to expire (within pkceConfig.refreshTime) is renewed with the refresh token before the call.
    cached = json.loads(cache.read_text())
    cached[key]["expires_at"] = time.time() + 60
    cache.write_text(json.dumps(cached))
    refreshes = auth_stack.log("admin").count(f"token.issued client={CLI_CLIENT} grant=refresh_token")
    assert auth_stack.aloftctl(config, "get", "projects").returncode == 0
    assert auth_stack.log("admin").count(f"token.issued client={CLI_CLIENT} grant=refresh_token") == refreshes + 1
    renewed = json.loads(cache.read_text())[key]
    assert renewed["refresh_token"] != first["refresh_token"] and renewed["expires_at"] > time.time() + 600

    # A token admin refuses (revoked, or signed with a retired key) is renewed and the call tried again.
    cached = json.loads(cache.read_text())
    cached[key]["access_token"] = "not-a-valid-token"
    cache.write_text(json.dumps(cached))
    again = auth_stack.aloftctl(config, "get", "projects")
    assert again.returncode == 0 and "flytesnacks" in again.stdout, again.stderr
    assert auth_stack.log("admin").count(f"token.issued client={CLI_CLIENT} grant=refresh_token") == refreshes + 2
    assert len(auth_stack.browser_logins()) == before + 1  # one browser login for all of it

    # No refresh token left either: the browser again.
    cache.write_text(json.dumps({key: {"access_token": "not-a-valid-token"}}))
    assert auth_stack.aloftctl(config, "get", "projects").returncode == 0
    assert len(auth_stack.browser_logins()) == before + 2
    token = json.loads(cache.read_text())[key]["access_token"]
    assert token not in listed.stdout + listed.stderr + auth_stack.log("admin")


def test_aloftctl_device_flow_says_admin_does_not_offer_it(auth_stack: Any) -> None:
    config = auth_stack.cli_config("aloftctl-device", "DeviceFlow")
    refused = auth_stack.aloftctl(config, "get", "projects")
    assert refused.returncode != 0
    assert "does not offer the device authorization grant" in refused.stderr, refused.stderr


def test_no_token_of_the_browser_logins_in_any_log_line(auth_stack: Any) -> None:
    tokens = [auth_stack.keyring("get", key) for key in ("access_token", "refresh_token")]
    cache = auth_stack.root / "aloftctl-tokens.json"
    if cache.exists():
        for entry in json.loads(cache.read_text()).values():
            tokens += [entry.get("access_token", ""), entry.get("refresh_token", "")]
    tokens = [t for t in tokens if t and t != "not-a-valid-token"]
    assert tokens, "run with the login tests: no tokens to look for"
    for name in ("admin", "datacatalog", "propeller", "oidc"):
        text = auth_stack.log(name)
        assert not JWT.search(text), f"{name} logged a token"
        for token in tokens:
            assert token not in text, f"{name} logged a login's token"
