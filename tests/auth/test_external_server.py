"""Admin in External mode (``appAuth.authServerType: External``): the test OpenID Connect provider is the
authorization server. Admin discovers its metadata and validates its JWT access tokens (RS256, its JWKS, audience in
``externalAuthServer.allowedAudience``); propeller and datacatalog get their tokens from it with client credentials.
Unmodified flytekit (authType Pkce) logs alice in through headless Chromium straight at the provider (no admin
/login on the way), registers and runs a workflow, and renews a refused token with the provider's refresh token;
aloftctl's Pkce does the same with its token cache. The device flow (``authType: DeviceFlow``, the provider's RFC 8628
grant): aloftctl and flytekit print the provider's verification address and user code, Chromium approves the code,
and the token lands in the cache the browser login uses too. A token the same provider issued for another API is
refused."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
import yaml
from flyteidl.admin import project_pb2
from flyteidl.service import admin_pb2_grpc

from aloft_testing.browser import launched_chromium
from aloft_testing.flytekit import flytekit_bin

pytestmark = pytest.mark.e2e

PROJECT, DOMAIN = "flytesnacks", "development"
CLI_CLIENT, OTHER_API_CLIENT = "flytectl", "other-api"  # the provider's public client; one for another API
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.")


def _claims(token: str) -> dict[str, Any]:
    """A JWT's payload, unverified: what the provider put in it."""
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def _audiences(stack: Any) -> list[str]:
    """What admin accepts (externalAuthServer.allowedAudience), from the stack's config."""
    auth = yaml.safe_load(stack.config_file.read_text())["auth"]
    return list(auth["appAuth"]["externalAuthServer"]["allowedAudience"])


def test_admin_serves_the_external_servers_metadata(external_stack: Any) -> None:
    metadata = httpx.get(f"{external_stack.admin_http}/.well-known/oauth-authorization-server").json()
    assert metadata["issuer"] == external_stack.oidc_url
    assert metadata["authorization_endpoint"] == f"{external_stack.oidc_url}/authorize"
    assert metadata["token_endpoint"] == f"{external_stack.oidc_url}/token"
    # admin issues no tokens of its own in External mode
    assert httpx.post(
        f"{external_stack.admin_http}/oauth2/token", data={"grant_type": "client_credentials"}
    ).status_code in (
        404,
        405,
    )


def test_flytekit_pkce_login_at_the_external_server_registers_runs_and_refreshes(external_stack: Any) -> None:
    config = external_stack.pkce_config()
    version = f"ext-{uuid.uuid4().hex[:8]}"
    registered = external_stack.register_flows(CLI_CLIENT, version, config=config)
    logins = external_stack.browser_logins()
    assert registered.returncode == 0, registered.stderr[-3000:] + json.dumps(logins)[-2000:]
    # One browser login, at the provider itself, ending on flytekit's callback page.
    assert len(logins) == 1, logins
    assert logins[0]["opened"].startswith(f"{external_stack.oidc_url}/authorize?"), logins
    assert "code_challenge_method=S256" in logins[0]["opened"]
    assert not any(url.startswith(f"{external_stack.admin_http}/") for url in logins[0]["navigations"]), logins
    assert logins[0]["final"].startswith(external_stack.pkce_redirect_uri + "?code="), logins[0]
    access, refresh = external_stack.keyring("get", "access_token"), external_stack.keyring("get", "refresh_token")
    assert access and refresh
    claims = _claims(access)
    assert (claims["iss"], claims["aud"], claims["sub"]) == (
        external_stack.oidc_url,
        _audiences(external_stack),
        "alice",
    )
    assert claims["client_id"] == CLI_CLIENT

    # The workflow runs (propeller reports events with the provider's client-credentials tokens).
    assert external_stack.run_as_user(version, 2)["output"] == 4 + 9
    assert len(external_stack.browser_logins()) == 1

    # An access token admin refuses: flytekit renews it with the provider's refresh token, which rotates.
    external_stack.keyring("set", "access_token", "not-a-valid-token")
    assert external_stack.run_as_user(version, 3)["output"] == 9 + 16
    assert len(external_stack.browser_logins()) == 1
    renewed = external_stack.keyring("get", "refresh_token")
    assert renewed and renewed != refresh
    # the rotated-out refresh token is spent at the provider
    spent = httpx.post(
        f"{external_stack.oidc_url}/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh, "client_id": CLI_CLIENT},
    )
    assert spent.status_code == 400 and spent.json()["error"] == "invalid_grant"


def test_aloftctl_pkce_login_at_the_external_server(external_stack: Any) -> None:
    cache = external_stack.root / "aloftctl-tokens.json"
    login = external_stack.aloftctl_pkce_login(cache)
    config, before, logins = login.config, login.logins_before, login.logins
    assert len(logins) == 1 and logins[0]["opened"].startswith(f"{external_stack.oidc_url}/authorize?"), logins
    key = f"127.0.0.1:{external_stack.ports['admin_grpc']}"
    first = json.loads(cache.read_text())[key]
    assert _claims(first["access_token"])["aud"] == _audiences(external_stack)

    # About to expire: renewed with the refresh token before the call, no browser.
    cached = json.loads(cache.read_text())
    cached[key]["expires_at"] = time.time() + 60
    cache.write_text(json.dumps(cached))
    again = external_stack.aloftctl(config, "get", "projects")
    assert again.returncode == 0 and "flytesnacks" in again.stdout, again.stderr
    renewed = json.loads(cache.read_text())[key]
    assert renewed["refresh_token"] != first["refresh_token"] and renewed["expires_at"] > time.time() + 300
    assert len(external_stack.browser_logins()) == before + 1


DEVICE_PROMPT = re.compile(r"open (http://\S+/device) in a browser and enter the code ([A-Z]{4}-[A-Z]{4})")
FLYTEKIT_DEVICE_PROMPT = re.compile(r"(http://\S+/device)\?user_code=([A-Z]{4}-[A-Z]{4})")


def _approve_in_browser(verification_uri: str, user_code: str) -> None:
    """The person types the code shown by the CLI on the provider's page (logged in there) and approves it."""
    with launched_chromium() as browser:
        page = browser.new_page()
        page.goto(verification_uri, timeout=60_000)
        page.fill("input[name=user_code]", user_code)
        page.click("#approve")
        assert page.locator("#result").inner_text(timeout=60_000) == "Device approved."


def _approve_when_prompted(proc: subprocess.Popen[str], prompt: re.Pattern[str]) -> str:
    """Read the CLI's output until it shows the address and user code, approve them; what it printed so far."""
    assert proc.stdout is not None
    seen = ""
    for line in proc.stdout:
        seen += line
        found = prompt.search(line)
        if found:
            _approve_in_browser(found.group(1), found.group(2))
            return seen
    raise AssertionError(f"the CLI never showed a verification address and user code:\n{seen[-3000:]}")


def test_aloftctl_device_flow_approved_in_the_browser(external_stack: Any) -> None:
    cache = external_stack.root / "aloftctl-device-tokens.json"
    device = {"timeout": "2m", "pollInterval": "1s"}
    config = external_stack.cli_config(
        "aloftctl-device", "DeviceFlow", clientId=CLI_CLIENT, deviceFlowConfig=device, tokenCacheFile=str(cache)
    )
    command = [str(Path(sys.executable).parent / "aloftctl"), "--config", str(config), "get", "projects"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        printed = _approve_when_prompted(proc, DEVICE_PROMPT)
        rest, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0 and "flytesnacks" in rest, printed + rest
    token = json.loads(cache.read_text())[f"127.0.0.1:{external_stack.ports['admin_grpc']}"]
    assert _claims(token["access_token"])["sub"] == "alice" and token["refresh_token"]
    assert token["access_token"] not in printed + rest and token["refresh_token"] not in printed + rest

    # The Pkce login reads the same cache: no browser, no device code.
    pkce = external_stack.cli_config("aloftctl-device-then-pkce", "Pkce", tokenCacheFile=str(cache))
    before = len(external_stack.browser_logins())
    listed = external_stack.aloftctl(pkce, "get", "projects")
    assert listed.returncode == 0 and "flytesnacks" in listed.stdout, listed.stderr
    assert len(external_stack.browser_logins()) == before


def test_flytekit_device_flow_approved_in_the_browser(external_stack: Any) -> None:
    config = external_stack.cli_config("flytekit-device", "DeviceFlow")
    # a keyring of its own: no token from the Pkce logins
    env = {**external_stack.browser_env(), "XDG_DATA_HOME": str(_device_keyring(external_stack))}
    env["PYTHONUNBUFFERED"] = "1"  # its prompt is printed to a pipe, then it polls
    version = f"dev-{uuid.uuid4().hex[:8]}"
    command = [str(flytekit_bin() / "pyflyte"), "--config", str(config), "register"]
    command += ["--project", PROJECT, "--domain", DOMAIN, "--version", version, "flows"]
    here = Path(__file__).resolve().parent
    proc = subprocess.Popen(command, cwd=here, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        printed = _approve_when_prompted(proc, FLYTEKIT_DEVICE_PROMPT)
        rest, _ = proc.communicate(timeout=240)
    finally:
        proc.kill()
    assert proc.returncode == 0, (printed + rest)[-3000:]
    assert "Authentication successful" in rest
    token = external_stack.keyring("get", "access_token", data_home=_device_keyring(external_stack))
    assert _claims(token)["sub"] == "alice" and token not in printed + rest


def _device_keyring(stack: Any) -> Path:
    """flytekit's keyring for its device login: none of the Pkce logins' tokens in it."""
    return Path(stack.root) / "xdg-device"


def _service_token(stack: Any, client_id: str, secret_file: Path) -> str:
    reply = httpx.post(
        f"{stack.oidc_url}/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret_file.read_text().strip()),
    )
    assert reply.status_code == 200, reply.text
    return str(reply.json()["access_token"])


def _list_projects(stack: Any, token: str) -> grpc.StatusCode:
    with grpc.insecure_channel(f"127.0.0.1:{stack.ports['admin_grpc']}") as channel:
        try:
            admin_pb2_grpc.AdminServiceStub(channel).ListProjects(
                project_pb2.ProjectListRequest(), metadata=[("flyte-authorization", f"Bearer {token}")], timeout=30
            )
        except grpc.RpcError as exc:
            return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def test_tokens_of_the_external_server_for_another_audience_are_refused(external_stack: Any) -> None:
    ci = _service_token(external_stack, "ci-bot", external_stack.secret_files["ci-bot"])
    assert _list_projects(external_stack, ci) == grpc.StatusCode.OK
    other = _service_token(external_stack, OTHER_API_CLIENT, external_stack.secret_files[OTHER_API_CLIENT])
    assert _claims(other)["iss"] == external_stack.oidc_url  # the same issuer and keys, another API's audience
    assert _list_projects(external_stack, other) == grpc.StatusCode.UNAUTHENTICATED
    assert "auth.failure method=/flyteidl.service.AdminService/ListProjects" in external_stack.log("admin")
    assert "reason=the token is for another audience" in external_stack.log("admin")


def test_no_token_or_secret_of_the_external_flows_in_any_log_line(external_stack: Any) -> None:
    secrets = [path.read_text().strip() for path in external_stack.secret_files.values()]
    tokens = [
        external_stack.keyring("get", key, data_home=home)
        for key in ("access_token", "refresh_token")
        for home in (None, _device_keyring(external_stack))  # the Pkce logins', the device login's
    ]
    for name in ("aloftctl-tokens.json", "aloftctl-device-tokens.json"):
        cache = external_stack.root / name
        if cache.exists():
            for entry in json.loads(cache.read_text()).values():
                tokens += [entry.get("access_token", ""), entry.get("refresh_token", "")]
    tokens = [t for t in tokens if t and t != "not-a-valid-token"]
    assert tokens, "run with the login tests: no tokens to look for"
    assert {"flytepropeller", "ci-bot", OTHER_API_CLIENT} <= set(external_stack.secret_files)
    for name in ("admin", "datacatalog", "propeller", "oidc"):
        text = external_stack.log(name)
        assert not JWT.search(text), f"{name} logged a token"
        for value in tokens + secrets:
            assert value not in text, f"{name} logged a login's token or a client secret"
