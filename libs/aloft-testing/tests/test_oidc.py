"""The test OIDC provider's grants, over HTTP in-process (Starlette's test client): what tests/auth relies on when it
is admin's external authorization server — PKCE S256 for public clients, rotating single-use refresh tokens, JWT
access tokens for the right audience, client credentials, and the device flow with slow_down."""

from __future__ import annotations

import base64
import hashlib
import json
import warnings
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from aloft_testing import oidc

with warnings.catch_warnings():
    # Starlette's in-process client runs on httpx, which it now calls deprecated in favour of httpx2
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient as HttpClient

ISSUER, AUDIENCE, REDIRECT = "http://127.0.0.1:9", "https://aloft.example/api", "http://localhost:1/callback"
DEVICE = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture
def http() -> HttpClient:
    clients = [
        oidc.TestClient("flytectl", "", [REDIRECT], ["authorization_code", "refresh_token", DEVICE]),
        oidc.TestClient("propeller", "s3cret", grant_types=["client_credentials"]),
        oidc.TestClient("other", "0ther", grant_types=["client_credentials"], audience="https://other.example"),
    ]
    provider = oidc.Provider(ISSUER, clients, oidc.TestUser("alice", ["users"]), AUDIENCE, device_interval=1)
    return HttpClient(oidc.build_app(provider), base_url=ISSUER)


def _claims(http: HttpClient, token: str) -> dict[str, Any]:
    """The access token verified with the provider's published keys, for its audience."""
    keys = jwt.PyJWKSet.from_dict(http.get("/jwks").json())
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in keys.keys if k.key_id == kid)
    audience = jwt.decode(token, options={"verify_signature": False})["aud"]
    return dict(jwt.decode(token, key.key, algorithms=["RS256"], audience=audience, issuer=ISSUER))


def _authorize(http: HttpClient, method: str = "S256") -> tuple[dict[str, str], str]:
    """The redirect's query (code, or error) and the PKCE verifier."""
    verifier = "v" * 50
    challenge = verifier
    if method == "S256":
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {
        "response_type": "code",
        "client_id": "flytectl",
        "redirect_uri": REDIRECT,
        "scope": "all offline",
        "state": "st",
        "code_challenge": challenge,
        "code_challenge_method": method,
    }
    reply = http.get("/authorize", params=query, follow_redirects=False)
    assert reply.status_code == 302
    return {k: v[0] for k, v in parse_qs(urlsplit(reply.headers["location"]).query).items()}, verifier


def test_public_client_pkce_s256_then_rotating_refresh_tokens(http: HttpClient) -> None:
    returned, verifier = _authorize(http)
    form = {
        "grant_type": "authorization_code",
        "code": returned["code"],
        "redirect_uri": REDIRECT,
        "client_id": "flytectl",
    }
    token = http.post("/token", data={**form, "code_verifier": verifier}).json()
    claims = _claims(http, token["access_token"])
    assert (claims["sub"], claims["aud"], claims["client_id"], claims["groups"]) == (
        "alice",
        [AUDIENCE],
        "flytectl",
        ["users"],
    )
    refresh = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"], "client_id": "flytectl"}
    renewed = http.post("/token", data=refresh).json()
    assert (
        renewed["refresh_token"] != token["refresh_token"] and _claims(http, renewed["access_token"])["sub"] == "alice"
    )
    spent = http.post("/token", data=refresh)
    assert spent.status_code == 400 and spent.json()["error"] == "invalid_grant"


def test_a_public_client_cannot_use_plain_pkce(http: HttpClient) -> None:
    returned, _ = _authorize(http, method="plain")
    assert "code" not in returned and returned["error"] == "invalid_request", returned
    assert "S256" in returned["error_description"]


def test_an_unsupported_response_type_goes_back_to_the_client_with_its_state(http: HttpClient) -> None:
    query = {"response_type": "token", "client_id": "flytectl", "redirect_uri": REDIRECT, "state": "st"}
    reply = http.get("/authorize", params=query, follow_redirects=False)
    assert reply.status_code == 302 and reply.headers["location"].startswith(f"{REDIRECT}?")
    returned = parse_qs(urlsplit(reply.headers["location"]).query)
    assert returned["error"] == ["unsupported_response_type"] and returned["state"] == ["st"]


def test_client_credentials_tokens_carry_the_clients_audience(http: HttpClient) -> None:
    ours = http.post("/token", data={"grant_type": "client_credentials"}, auth=("propeller", "s3cret")).json()
    assert _claims(http, ours["access_token"])["aud"] == [AUDIENCE]
    other = http.post("/token", data={"grant_type": "client_credentials"}, auth=("other", "0ther")).json()
    assert _claims(http, other["access_token"])["aud"] == ["https://other.example"]
    wrong = http.post("/token", data={"grant_type": "client_credentials"}, auth=("propeller", "nope"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert "propeller" not in json.dumps(http.get("/.well-known/oauth-authorization-server").json())


def test_device_flow_pending_slow_down_approval_and_single_use(http: HttpClient) -> None:
    metadata = http.get("/.well-known/oauth-authorization-server").json()
    assert metadata["device_authorization_endpoint"] == f"{ISSUER}/device_authorization"
    device = http.post("/device_authorization", data={"client_id": "flytectl", "scope": "all offline"}).json()
    assert device["verification_uri"] == f"{ISSUER}/device" and device["interval"] == 1
    poll = {"grant_type": DEVICE, "device_code": device["device_code"], "client_id": "flytectl"}
    assert http.post("/token", data=poll).json()["error"] == "authorization_pending"
    assert http.post("/token", data=poll).json()["error"] == "slow_down"  # polled again at once
    assert device["user_code"] in http.get("/device", params={"user_code": device["user_code"]}).text
    assert http.post("/device", data={"user_code": "NOPE-NOPE"}).status_code == 400
    assert "Device approved." in http.post("/device", data={"user_code": device["user_code"].lower()}).text
    token = http.post("/token", data=poll).json()
    assert _claims(http, token["access_token"])["sub"] == "alice" and token["refresh_token"]
    assert http.post("/token", data=poll).status_code == 400  # a device code is used once
