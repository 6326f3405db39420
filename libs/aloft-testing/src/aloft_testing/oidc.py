"""A small OpenID Connect provider for tests, built on Authlib, run as its own process:

    python -m aloft_testing.oidc --port N --client-id admin --client-secret S --redirect-uri URI --user alice

It serves discovery (``/.well-known/openid-configuration``), ``/authorize`` (authorization code + PKCE; the
configured user is logged in without a form, as if they had typed their password), ``/token`` (with an RS256
``id_token``), ``/jwks`` and ``/userinfo``. ``--groups`` sets the user's ``groups`` claim.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from aloft_auth.oauth_requests import FormRequest
from authlib.common.security import generate_token
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, OAuth2Request, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class TestUser:
    subject: str
    groups: list[str]

    def get_user_id(self) -> str:
        return self.subject


class TestClient(ClientMixin):
    def __init__(self, client_id: str, secret: str, redirect_uri: str) -> None:
        self.client_id, self.secret, self.redirect_uri = client_id, secret, redirect_uri

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in (scope or "").split() if s in ("openid", "profile", "email", "groups"))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri == self.redirect_uri

    def check_client_secret(self, client_secret: str) -> bool:
        return client_secret == self.secret

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


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


class Provider(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, issuer: str, client: TestClient, user: TestUser) -> None:
        super().__init__(scopes_supported=["openid", "profile", "email", "groups"])
        self.issuer, self.client, self.user = issuer, client, user
        key = RSAKey.generate_key(2048, private=True)
        key.ensure_kid()
        self.keys = KeySet([key])
        self.codes: dict[str, Code] = {}
        self.register_token_generator("default", self._bearer)
        provider = self

        class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

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

        self.register_grant(CodeGrant, [CodeChallenge(required=True), IdToken(require_nonce=True)])

    def _bearer(self, client: Any, grant_type: str, user: Any = None, scope: str = "", **_: Any) -> dict[str, Any]:
        return {"token_type": "Bearer", "access_token": generate_token(32), "expires_in": 600, "scope": scope}

    def query_client(self, client_id: str) -> TestClient | None:
        return self.client if client_id == self.client.client_id else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        return None

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def create_oauth2_request(self, request: Any) -> Any:
        return request

    def create_json_request(self, request: Any) -> Any:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
        content = json.dumps(body) if isinstance(body, dict) else (body or "")
        return Response(content, status, headers=dict(headers), media_type="application/json" if body else None)


def build_app(provider: Provider) -> Starlette:
    issuer = provider.issuer

    async def discovery(_: Request) -> Response:
        return JSONResponse(
            {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/authorize",
                "token_endpoint": f"{issuer}/token",
                "jwks_uri": f"{issuer}/jwks",
                "userinfo_endpoint": f"{issuer}/userinfo",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "profile", "email", "groups"],
                "code_challenge_methods_supported": ["S256"],
            }
        )

    async def authorize(request: Request) -> Response:
        oauth = FormRequest("GET", f"{issuer}/authorize", request.headers, dict(request.query_params), {})
        return provider.create_authorization_response(request=oauth, grant_user=provider.user)  # type: ignore[no-any-return]

    async def token(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        oauth = FormRequest("POST", f"{issuer}/token", request.headers, {}, form)
        return provider.create_token_response(oauth)  # type: ignore[no-any-return]

    async def jwks(_: Request) -> Response:
        return JSONResponse(provider.keys.as_dict(private=False))

    return Starlette(
        routes=[
            Route("/.well-known/openid-configuration", discovery),
            Route("/authorize", authorize),
            Route("/token", token, methods=["POST"]),
            Route("/jwks", jwks),
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
    args = parser.parse_args()
    issuer = f"http://127.0.0.1:{args.port}"
    user = TestUser(args.user, [g for g in args.groups.split(",") if g])
    provider = Provider(issuer, TestClient(args.client_id, args.client_secret, args.redirect_uri), user)
    uvicorn.run(build_app(provider), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
