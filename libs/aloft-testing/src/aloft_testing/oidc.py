"""A small OpenID Connect provider for tests, built on Authlib, run as its own process:

    python -m aloft_testing.oidc --port N --client-id admin --client-secret S --redirect-uri URI --user alice

It serves discovery (``/.well-known/openid-configuration`` and RFC 8414's ``/.well-known/oauth-authorization-server``),
``/authorize`` (authorization code + PKCE; the configured user is logged in without a form, as if they had typed
their password), ``/token`` (with an RS256 ``id_token``) and ``/jwks``. ``--groups`` sets the user's ``groups`` claim.

As an external authorization server for admin (``authServerType: External``) it also takes ``--clients FILE``, a JSON
list of more clients (``id``; ``secret_file`` for a confidential one, none for a public one that must use PKCE S256;
``redirect_uris``, ``grant_types`` of ``authorization_code``, ``refresh_token``, ``client_credentials``; ``audience``).
Access tokens are RFC 9068 JWTs signed with its JWKS, for ``--audience`` (or the client's own ``audience``), so a
client can be made whose tokens are for another API. Refresh tokens rotate and are single use.

The device authorization grant (RFC 8628, for clients with ``urn:ietf:params:oauth:grant-type:device_code`` in their
``grant_types``): ``/device_authorization`` hands out a device code and a user code; the user approves the code on
``/device`` (a form, as the logged-in user); polling faster than ``--device-interval`` gets ``slow_down``.
"""

from __future__ import annotations

import argparse
import html
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from aloft_auth.oauth_requests import FormRequest, authorization_response
from authlib.common.security import generate_token
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import (
    AuthorizationCodeMixin,
    ClientMixin,
    InvalidRequestError,
    OAuth2Request,
    TokenMixin,
    grants,
)
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc8628 import DeviceAuthorizationEndpoint, DeviceCodeGrant, DeviceCredentialDict
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route


@dataclass
class TestUser:
    subject: str
    groups: list[str]

    def get_user_id(self) -> str:
        return self.subject


# what the provider's clients may ask for; the PKCE clients' "all"/"offline" are flytekit's and flytectl's defaults
SCOPES = ["openid", "profile", "email", "groups", "all", "offline", "offline_access"]
ACCESS_TOKEN_SECONDS = 600
REFRESH_TOKEN_SECONDS = 3600


@dataclass
class TestClient(ClientMixin):
    """A client: confidential when it has a secret, public (PKCE, no secret) when not."""

    client_id: str
    secret: str
    redirect_uris: list[str] = field(default_factory=list)
    grant_types: list[str] = field(default_factory=lambda: ["authorization_code"])
    audience: str = ""  # "" = the provider's --audience

    @property
    def public(self) -> bool:
        return not self.secret

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0] if self.redirect_uris else ""

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in (scope or "").split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return not self.public and client_secret == self.secret

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types

    @staticmethod
    def from_spec(spec: dict[str, Any]) -> TestClient:
        secret_file = spec.get("secret_file")
        return TestClient(
            spec["id"],
            Path(secret_file).read_text().strip() if secret_file else "",
            list(spec.get("redirect_uris", [])),
            list(spec.get("grant_types", ["authorization_code"])),
            spec.get("audience", ""),
        )


@dataclass
class RefreshToken(TokenMixin):
    client_id: str
    scope: str
    user: TestUser | None
    expires_at: float

    def check_client(self, client: ClientMixin) -> bool:
        return bool(client.get_client_id() == self.client_id)

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(0, int(self.expires_at - time.time()))

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at

    def is_revoked(self) -> bool:
        return False  # a used refresh token is deleted


@dataclass
class Code(AuthorizationCodeMixin):
    code: str
    redirect_uri: str
    scope: str
    nonce: str
    user: TestUser
    code_challenge: str
    code_challenge_method: str

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str:
        return self.nonce

    def get_auth_time(self) -> int:
        return int(time.time())

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


class AccessTokens(JWTBearerTokenGenerator):  # type: ignore[misc]
    """RFC 9068 JWT access tokens signed with the provider's key, for the client's audience (or the provider's)."""

    def __init__(self, provider: Provider) -> None:
        super().__init__(
            issuer=provider.issuer,
            refresh_token_generator=lambda **_: generate_token(48),
            expires_generator=lambda client, grant_type: ACCESS_TOKEN_SECONDS,
        )
        self.provider = provider

    def get_jwks(self) -> KeySet:
        return self.provider.keys

    def get_audiences(self, client: TestClient, user: TestUser | None, scope: str) -> list[str]:
        return [client.audience or self.provider.audience]

    def get_extra_claims(
        self, client: TestClient, grant_type: str, user: TestUser | None, scope: str
    ) -> dict[str, Any]:
        return {"groups": list(user.groups)} if user is not None else {}


class PublicS256(CodeChallenge):  # type: ignore[misc]
    """PKCE as RFC 9700 asks of public clients: S256 only (confidential clients may still send plain)."""

    def validate_code_challenge(self, grant: Any, redirect_uri: str | None) -> None:
        super().validate_code_challenge(grant, redirect_uri)
        request = grant.request
        if request.client.public and request.payload.data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("public clients must use code_challenge_method S256")


@dataclass
class DeviceLogin:
    """A pending device authorization: its credential, the user's decision, and the client's polling pace."""

    credential: DeviceCredentialDict
    interval: float
    last_poll: float = 0.0
    approved_by: TestUser | None = None


class Provider(AuthorizationServer):  # type: ignore[misc]
    def __init__(
        self, issuer: str, clients: list[TestClient], user: TestUser, audience: str = "", device_interval: int = 5
    ) -> None:
        super().__init__(scopes_supported=SCOPES)
        self.issuer, self.user, self.audience = issuer, user, audience or issuer
        self.device_logins: dict[str, DeviceLogin] = {}  # by device code
        self.device_interval = device_interval
        self.clients = {client.client_id: client for client in clients}
        key = RSAKey.generate_key(2048, private=True)
        key.ensure_kid()
        self.keys = KeySet([key])
        self.codes: dict[str, Code] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.register_token_generator("default", AccessTokens(self))
        provider = self

        class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

            def save_authorization_code(self, code: str, request: OAuth2Request) -> Code:
                data = request.payload.data
                record = Code(
                    code,
                    data.get("redirect_uri", ""),
                    request.scope or "",
                    data.get("nonce", ""),
                    request.user,
                    data.get("code_challenge", ""),
                    data.get("code_challenge_method", ""),
                )
                provider.codes[code] = record
                return record

            def query_authorization_code(self, code: str, client: TestClient) -> Code | None:
                return provider.codes.get(code)

            def delete_authorization_code(self, authorization_code: Code) -> None:
                provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: Code) -> TestUser:
                return authorization_code.user

        class IdToken(OpenIDCode):  # type: ignore[misc]
            def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
                return False

            def resolve_client_private_key(self, client: TestClient) -> KeySet:
                return provider.keys

            def get_client_algorithm(self, client: TestClient) -> str:
                return "RS256"

            def get_client_claims(self, client: TestClient) -> dict[str, Any]:
                return {"iss": provider.issuer, "aud": [client.get_client_id()], "exp": int(time.time()) + 600}

            def generate_user_info(self, user: TestUser, scope: str) -> UserInfo:
                return UserInfo(
                    sub=user.subject, name=user.subject.title(), email=f"{user.subject}@example.com", groups=user.groups
                )

        class RefreshGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
            INCLUDE_NEW_REFRESH_TOKEN = True  # rotation: each refresh token is used once

            def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken | None:
                return provider.refresh_tokens.get(refresh_token)

            def authenticate_user(self, refresh_token: RefreshToken) -> TestUser | None:
                return refresh_token.user

            def revoke_old_credential(self, refresh_token: RefreshToken) -> None:
                for value, record in list(provider.refresh_tokens.items()):
                    if record is refresh_token:
                        del provider.refresh_tokens[value]

        class ServiceGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

        class DeviceEndpoint(DeviceAuthorizationEndpoint):  # type: ignore[misc]
            INTERVAL = device_interval
            EXPIRES_IN = 600

            def get_verification_uri(self) -> str:
                return f"{provider.issuer}/device"

            def save_device_credential(self, client_id: str, scope: str, data: dict[str, Any]) -> None:
                credential = DeviceCredentialDict(
                    client_id=client_id, scope=scope or "", expires_at=time.time() + self.EXPIRES_IN, **data
                )
                provider.device_logins[data["device_code"]] = DeviceLogin(credential, float(self.INTERVAL))

        class DeviceGrant(DeviceCodeGrant):  # type: ignore[misc]
            def query_device_credential(self, device_code: str) -> DeviceCredentialDict | None:
                login = provider.device_logins.get(device_code)
                return login.credential if login is not None else None

            def query_user_grant(self, user_code: str) -> tuple[TestUser, bool] | None:
                login = provider.device_login(user_code)
                return (login.approved_by, True) if login is not None and login.approved_by else None

            def should_slow_down(self, credential: DeviceCredentialDict) -> bool:
                # RFC 8628 3.5: polling faster than the interval adds 5 s to it for this and later requests
                login = provider.device_logins[credential["device_code"]]
                now = time.monotonic()
                too_soon = now - login.last_poll < login.interval
                login.last_poll = now
                if too_soon:
                    login.interval += 5
                return too_soon

            def create_token_response(self) -> tuple[int, Any, Any]:
                reply = super().create_token_response()
                provider.device_logins.pop(self.request.credential["device_code"], None)  # a device code is used once
                return reply  # type: ignore[no-any-return]

        self.register_endpoint(DeviceEndpoint)
        self.register_grant(DeviceGrant)
        # PKCE is required of every client; public clients must use S256 (CodeChallenge's default set: S256, plain)
        self.register_grant(CodeGrant, [PublicS256(required=True), IdToken(require_nonce=True)])
        self.register_grant(RefreshGrant)
        self.register_grant(ServiceGrant)

    def device_login(self, user_code: str) -> DeviceLogin | None:
        wanted = user_code.strip().upper()
        return next((d for d in self.device_logins.values() if d.credential["user_code"] == wanted), None)

    def query_client(self, client_id: str) -> TestClient | None:
        return self.clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        refresh = token.get("refresh_token")
        if refresh:
            record = RefreshToken(
                request.client.get_client_id(),
                token.get("scope", ""),
                request.user,
                time.time() + REFRESH_TOKEN_SECONDS,
            )
            self.refresh_tokens[refresh] = record

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def create_oauth2_request(self, request: Any) -> Any:
        return request

    def create_json_request(self, request: Any) -> Any:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
        content = json.dumps(body) if isinstance(body, dict) else (body or "")
        return Response(content, status, headers=dict(headers), media_type="application/json" if body else None)


DEVICE_FORM = """<!doctype html><title>Connect a device</title>
<form method=post action=/device><label>Code <input name=user_code value="{user_code}" autofocus></label>
<button type=submit id=approve>Approve</button></form>"""


def build_app(provider: Provider) -> Starlette:
    issuer = provider.issuer

    async def discovery(_: Request) -> Response:
        return JSONResponse(
            {
                "grant_types_supported": [
                    "authorization_code",
                    "refresh_token",
                    "client_credentials",
                    "urn:ietf:params:oauth:grant-type:device_code",
                ],
                "device_authorization_endpoint": f"{issuer}/device_authorization",
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/authorize",
                "token_endpoint": f"{issuer}/token",
                "jwks_uri": f"{issuer}/jwks",
                "userinfo_endpoint": f"{issuer}/userinfo",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": SCOPES,
                "code_challenge_methods_supported": ["S256"],
            }
        )

    async def authorize(request: Request) -> Response:
        oauth = FormRequest("GET", f"{issuer}/authorize", request.headers, dict(request.query_params), {})
        return authorization_response(provider, oauth, provider.user)  # type: ignore[no-any-return]

    async def token(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        oauth = FormRequest("POST", f"{issuer}/token", request.headers, {}, form)
        return provider.create_token_response(oauth)  # type: ignore[no-any-return]

    async def device_authorization(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        oauth = FormRequest("POST", f"{issuer}/device_authorization", request.headers, {}, form)
        return provider.create_endpoint_response("device_authorization", oauth)  # type: ignore[no-any-return]

    async def device(request: Request) -> Response:
        """The verification page: the logged-in user approves the code a device shows."""
        if request.method == "GET":
            code = html.escape(request.query_params.get("user_code", ""))
            return HTMLResponse(DEVICE_FORM.format(user_code=code))
        user_code = dict(parse_qsl((await request.body()).decode())).get("user_code", "")
        login = provider.device_login(user_code)
        if login is None or login.credential.is_expired():
            return HTMLResponse("<!doctype html><title>Unknown code</title><p id=result>Unknown or expired code.", 400)
        login.approved_by = provider.user
        return HTMLResponse("<!doctype html><title>Approved</title><p id=result>Device approved.")

    async def jwks(_: Request) -> Response:
        return JSONResponse(provider.keys.as_dict(private=False))

    return Starlette(
        routes=[
            Route("/.well-known/openid-configuration", discovery),
            Route("/.well-known/oauth-authorization-server", discovery),
            Route("/authorize", authorize),
            Route("/token", token, methods=["POST"]),
            Route("/jwks", jwks),
            Route("/device_authorization", device_authorization, methods=["POST"]),
            Route("/device", device, methods=["GET", "POST"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="aloft_testing.oidc")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--redirect-uri", required=True)
    parser.add_argument("--user", default="alice")
    parser.add_argument("--groups", default="")
    parser.add_argument("--clients", type=Path, help="a JSON list of more clients (see the module's docstring)")
    parser.add_argument("--audience", default="", help="access tokens' audience (default: the issuer)")
    parser.add_argument("--device-interval", type=int, default=5, help="seconds between device-flow polls")
    args = parser.parse_args()
    issuer = f"http://127.0.0.1:{args.port}"
    user = TestUser(args.user, [g for g in args.groups.split(",") if g])
    clients = [TestClient(args.client_id, args.client_secret, [args.redirect_uri])]
    if args.clients:
        clients += [TestClient.from_spec(spec) for spec in json.loads(args.clients.read_text())]
    provider = Provider(issuer, clients, user, args.audience, args.device_interval)
    uvicorn.run(build_app(provider), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
