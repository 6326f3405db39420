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
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from flyteidl.core import execution_pb2

from aloft_testing.flytekit import flytekit_python

pytestmark = pytest.mark.e2e

PROJECT, DOMAIN = "flytesnacks", "development"
CLI_CLIENT = "flytectl"
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.")


def _logins(auth_stack: Any) -> list[dict[str, Any]]:
    log = auth_stack.browser_log
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def _keyring(auth_stack: Any, action: str, key: str, value: str = "") -> str:
    """Read (get) or overwrite (set) one of flytekit's cached credentials, through keyring as flytekit does."""
    endpoint = f"127.0.0.1:{auth_stack.ports['admin_grpc']}"
    code = (
        "import keyring, sys\n"
        f"if {action!r} == 'set': keyring.set_password({endpoint!r}, {key!r}, {value!r})\n"
        f"else: sys.stdout.write(keyring.get_password({endpoint!r}, {key!r}) or '')\n"
    )
    done = subprocess.run(
        [str(flytekit_python()), "-c", code], env=auth_stack.browser_env(), capture_output=True, text=True, check=True
    )
    return done.stdout


def test_flytekit_pkce_login_registers_runs_and_refreshes(auth_stack: Any) -> None:
    admin = auth_stack.admin_http
    config = auth_stack.pkce_config()
    version = f"pkce-{uuid.uuid4().hex[:8]}"
    registered = auth_stack.flytekit(
        CLI_CLIENT, "register", "--project", PROJECT, "--domain", DOMAIN, "--version", version, "flows", config=config
    )
    logins = _logins(auth_stack)
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
    refresh_token = _keyring(auth_stack, "get", "refresh_token")
    assert refresh_token and _keyring(auth_stack, "get", "access_token")

    # A second process finds the tokens in the keyring: no new browser login.
    first = _run(auth_stack, version, 2)
    assert first["output"] == 4 + 9
    assert len(_logins(auth_stack)) == 1

    # An access token admin refuses makes flytekit use its refresh token (rotated by admin), not the browser.
    _keyring(auth_stack, "set", "access_token", "not-a-valid-token")
    second = _run(auth_stack, version, 3)
    assert second["output"] == 9 + 16
    assert len(_logins(auth_stack)) == 1
    assert f"token.issued client={CLI_CLIENT} grant=refresh_token subject=alice" in auth_stack.log("admin")
    renewed = _keyring(auth_stack, "get", "refresh_token")
    assert renewed and renewed != refresh_token
    # The rotated-out refresh token is spent.
    assert "token.refused client=flytectl grant=refresh_token" not in auth_stack.log("admin")


def _run(auth_stack: Any, version: str, x: int) -> dict[str, Any]:
    ran = auth_stack.flytekit(CLI_CLIENT, "run", version, str(x), tool="driver", config=auth_stack.pkce_config())
    assert ran.returncode == 0, ran.stderr[-3000:] + auth_stack.log("admin")[-2000:]
    result: dict[str, Any] = json.loads(ran.stdout.strip().splitlines()[-1])
    assert result["phase"] == execution_pb2.WorkflowExecution.SUCCEEDED, result
    return result


def _aloftctl(auth_stack: Any, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "aloftctl"), "--config", str(config), *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=180, check=False, env=auth_stack.browser_env()
    )


def test_aloftctl_pkce_login_caches_and_refreshes_tokens(auth_stack: Any) -> None:
    cache = auth_stack.root / "aloftctl-tokens.json"
    config = auth_stack.root / "aloftctl-pkce.yaml"
    endpoint = f"dns:///127.0.0.1:{auth_stack.ports['admin_grpc']}"
    # flytectl's keys; tokenCacheFile is aloftctl's own
    config.write_text(
        f"admin:\n  endpoint: {endpoint}\n  insecure: true\n  authType: Pkce\n"
        f"  pkceConfig: {{timeout: 2m, refreshTime: 5m}}\n  tokenCacheFile: {cache}\n"
    )
    before = len(_logins(auth_stack))
    listed = _aloftctl(auth_stack, config, "get", "projects")
    assert listed.returncode == 0, listed.stderr + json.dumps(_logins(auth_stack)[before:])[-3000:]
    assert "flytesnacks" in listed.stdout
    logins = _logins(auth_stack)[before:]
    assert len(logins) == 1 and logins[0]["final"].startswith(auth_stack.pkce_redirect_uri + "?code="), logins
    assert any(url.startswith(f"{auth_stack.admin_http}/login") for url in logins[0]["navigations"])
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    key = f"127.0.0.1:{auth_stack.ports['admin_grpc']}"
    first = json.loads(cache.read_text())[key]
    assert first["refresh_token"] and first["expires_at"] > time.time()

    # The cached token serves the next command: no browser, no token request.
    issued = auth_stack.log("admin").count(f"token.issued client={CLI_CLIENT}")
    assert _aloftctl(auth_stack, config, "get", "projects").returncode == 0
    assert auth_stack.log("admin").count(f"token.issued client={CLI_CLIENT}") == issued

    # A token about to expire (within pkceConfig.refreshTime) is renewed with the refresh token before the call.
    cached = json.loads(cache.read_text())
    cached[key]["expires_at"] = time.time() + 60
    cache.write_text(json.dumps(cached))
    refreshes = auth_stack.log("admin").count(f"token.issued client={CLI_CLIENT} grant=refresh_token")
    assert _aloftctl(auth_stack, config, "get", "projects").returncode == 0
    assert auth_stack.log("admin").count(f"token.issued client={CLI_CLIENT} grant=refresh_token") == refreshes + 1
    renewed = json.loads(cache.read_text())[key]
    assert renewed["refresh_token"] != first["refresh_token"] and renewed["expires_at"] > time.time() + 600

    # A token admin refuses (revoked, or signed with a retired key) is renewed and the call tried again.
    cached = json.loads(cache.read_text())
    cached[key]["access_token"] = "not-a-valid-token"
    cache.write_text(json.dumps(cached))
    again = _aloftctl(auth_stack, config, "get", "projects")
    assert again.returncode == 0 and "flytesnacks" in again.stdout, again.stderr
    assert auth_stack.log("admin").count(f"token.issued client={CLI_CLIENT} grant=refresh_token") == refreshes + 2
    assert len(_logins(auth_stack)) == before + 1  # one browser login for all of it

    # No refresh token left either: the browser again.
    cache.write_text(json.dumps({key: {"access_token": "not-a-valid-token"}}))
    assert _aloftctl(auth_stack, config, "get", "projects").returncode == 0
    assert len(_logins(auth_stack)) == before + 2
    token = json.loads(cache.read_text())[key]["access_token"]
    assert token not in listed.stdout + listed.stderr + auth_stack.log("admin")


def test_aloftctl_device_flow_says_admin_does_not_offer_it(auth_stack: Any) -> None:
    config = auth_stack.root / "aloftctl-device.yaml"
    endpoint = f"dns:///127.0.0.1:{auth_stack.ports['admin_grpc']}"
    config.write_text(f"admin:\n  endpoint: {endpoint}\n  insecure: true\n  authType: DeviceFlow\n")
    refused = _aloftctl(auth_stack, config, "get", "projects")
    assert refused.returncode != 0
    assert "does not offer the device authorization grant" in refused.stderr, refused.stderr


def test_no_token_of_the_browser_logins_in_any_log_line(auth_stack: Any) -> None:
    tokens = [_keyring(auth_stack, "get", key) for key in ("access_token", "refresh_token")]
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
