"""Admin's own OAuth2 authorization server (Flyte's ``appAuth.selfAuthServer``), built on Authlib's grant machinery.

Grants: client credentials (confidential clients, bcrypt-hashed secrets), authorization code with PKCE (S256 or
plain, required) and refresh token. Access tokens are RFC 9068 JWTs signed with admin's RSA key (Authlib's
JWTBearerTokenGenerator); authorization codes and refresh tokens are opaque and kept in memory for their lifespan.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import bcrypt
from aloft_auth.audit import AuditLog
from aloft_auth.config import AuthConfig, StaticClient
from authlib.common.security import generate_token
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import (
    AuthorizationCodeMixin,
    ClientMixin,
    OAuth2Request,
    TokenMixin,
    grants,
)
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator

from aloft_admin.auth.keys import SigningKeys

GRANT_TYPES = ["client_credentials", "authorization_code", "refresh_token"]


class Client(ClientMixin):
    def __init__(self, config: StaticClient) -> None:
        self.config = config

    def get_client_id(self) -> str:
        return self.config.id

    def get_default_redirect_uri(self) -> str | None:
        return self.config.redirect_uris[0] if self.config.redirect_uris else None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return " ".join(self.config.scopes)
        return " ".join(s for s in scope_to_list(scope) if s in self.config.scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.config.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        stored = self.config.client_secret
        if self.config.public or not stored:
            return False
        try:
            return bcrypt.checkpw(client_secret.encode(), stored.encode())
        except ValueError:
            return False

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.config.public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type in self.config.response_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.config.grant_types


@dataclass(frozen=True)
class User:
    """A person who logged in (through the OIDC provider) and authorized a client."""

    subject: str
    groups: tuple[str, ...] = ()
    name: str = ""
    email: str = ""

    def get_user_id(self) -> str:
        return self.subject


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: User
    expires_at: float
    code_challenge: str = ""
    code_challenge_method: str = ""

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class RefreshToken(TokenMixin):
    token: str
    client: Client
    scope: str
    user: User | None
    expires_at: float
    revoked: bool = False

    def check_client(self, client: ClientMixin) -> bool:
        return bool(client.get_client_id() == self.client.get_client_id())

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(0, int(self.expires_at - time.time()))

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at

    def is_revoked(self) -> bool:
        return self.revoked

    def get_user(self) -> User | None:
        return self.user

    def get_client(self) -> Client:
        return self.client


@dataclass
class Grants:
    """The server's short-lived state: authorization codes and refresh tokens (in memory, so a restart ends
    sessions: clients log in again)."""

    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def sweep(self, now: float) -> None:
        with self.lock:
            for code in [c for c, v in self.codes.items() if v.expires_at <= now]:
                del self.codes[code]
            for token in [t for t, v in self.refresh_tokens.items() if v.expires_at <= now or v.revoked]:
                del self.refresh_tokens[token]


@dataclass
class Reply:
    status: int
    body: Any
    headers: list[tuple[str, str]]


class _TokenGenerator(JWTBearerTokenGenerator):  # type: ignore[misc]
    def __init__(self, config: AuthConfig, keys: SigningKeys) -> None:
        lifespan = int(config.appAuth.selfAuthServer.accessTokenLifespan.total_seconds())
        super().__init__(
            issuer=config.issuer(),
            refresh_token_generator=lambda **_: generate_token(48),
            expires_generator=lambda client, grant_type: lifespan,
        )
        self.config = config
        self.keys = keys

    def get_jwks(self) -> Any:
        return self.keys.signing_set()

    def get_audiences(self, client: Client, user: User | None, scope: str) -> list[str]:
        return self.config.audiences() + [a for a in client.config.audience if a not in self.config.audiences()]

    def get_extra_claims(self, client: Client, grant_type: str, user: User | None, scope: str) -> dict[str, Any]:
        if user is None:
            return {}
        claims: dict[str, Any] = {"groups": list(user.groups)}
        if user.name:
            claims["name"] = user.name
        if user.email:
            claims["email"] = user.email
        return claims


class RequiredCodeChallenge(CodeChallenge):  # type: ignore[misc]
    """PKCE for every authorization code: Authlib only insists at the token endpoint for public clients; here an
    authorization request without a ``code_challenge`` is refused up front."""

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        if not grant.request.payload.data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge' (PKCE is required)")
        super().validate_code_challenge(grant, redirect_uri)


def build_authorization_server(
    config: AuthConfig, keys: SigningKeys, audit: AuditLog, clock: Callable[[], float] = time.time
) -> SelfAuthorizationServer:
    server = SelfAuthorizationServer(config, keys, audit, clock)
    server.register_grant(_ClientCredentials)
    server.register_grant(_AuthorizationCode, [RequiredCodeChallenge(required=True)])
    server.register_grant(_RefreshToken)
    return server


class SelfAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, config: AuthConfig, keys: SigningKeys, audit: AuditLog, clock: Callable[[], float]) -> None:
        scopes = sorted({s for c in config.appAuth.selfAuthServer.staticClients.values() for s in c.scopes})
        super().__init__(scopes_supported=scopes)
        self.config = config
        self.keys = keys
        self.audit = audit
        self.clock = clock
        self.grants = Grants()
        self.clients = {cid: Client(c) for cid, c in config.appAuth.selfAuthServer.staticClients.items()}
        self.register_token_generator("default", _TokenGenerator(config, keys))

    @property
    def self_config(self) -> Any:
        return self.config.appAuth.selfAuthServer

    def query_client(self, client_id: str) -> Client | None:
        return self.clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        refresh = token.get("refresh_token")
        if refresh:
            lifespan = self.self_config.refreshTokenLifespan.total_seconds()
            with self.grants.lock:
                self.grants.refresh_tokens[refresh] = RefreshToken(
                    token=refresh,
                    client=request.client,
                    scope=token.get("scope", ""),
                    user=request.user,
                    expires_at=self.clock() + lifespan,
                )
        user = request.user
        self.audit.token_issued(
            request.client.get_client_id(), request.payload.grant_type or "", user.subject if user else ""
        )

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        return request  # callers build a FormRequest

    def create_json_request(self, request: Any) -> Any:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Reply:
        return Reply(status, body, headers)

    def metadata(self) -> dict[str, Any]:
        """RFC 8414 authorization server metadata (what flyteadmin publishes at the well-known address)."""
        issuer = self.config.issuer()
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/oauth2/authorize",
            "token_endpoint": f"{issuer}/oauth2/token",
            "jwks_uri": f"{issuer}/oauth2/jwks",
            "response_types_supported": ["code", "token", "code token"],
            "scopes_supported": self.scopes_supported,
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "code_challenge_methods_supported": ["S256", "plain"],
            "grant_types_supported": GRANT_TYPES,
        }


class _ClientCredentials(grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class _AuthorizationCode(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    @property
    def _server(self) -> SelfAuthorizationServer:
        return self.server  # type: ignore[no-any-return]

    def save_authorization_code(self, code: str, request: OAuth2Request) -> AuthorizationCode:
        server = self._server
        data = request.payload.data
        record = AuthorizationCode(
            code=code,
            client_id=request.client.get_client_id(),
            redirect_uri=data.get("redirect_uri", ""),
            scope=request.scope or "",
            user=request.user,
            expires_at=server.clock() + server.self_config.authorizationCodeLifespan.total_seconds(),
            code_challenge=data.get("code_challenge", ""),
            code_challenge_method=data.get("code_challenge_method", ""),
        )
        with server.grants.lock:
            server.grants.codes[code] = record
        return record

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        server = self._server
        with server.grants.lock:
            record = server.grants.codes.get(code)
        if record is None or record.client_id != client.get_client_id() or record.expires_at <= server.clock():
            return None
        return record

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        with self._server.grants.lock:
            self._server.grants.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: AuthorizationCode) -> User:
        return authorization_code.user


class _RefreshToken(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotate refresh tokens: each is used once

    @property
    def _server(self) -> SelfAuthorizationServer:
        return self.server  # type: ignore[no-any-return]

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken | None:
        with self._server.grants.lock:
            record = self._server.grants.refresh_tokens.get(refresh_token)
        if record is None or record.is_revoked() or record.expires_at <= self._server.clock():
            return None
        return record

    def authenticate_user(self, refresh_token: RefreshToken) -> User | None:
        return refresh_token.user

    def revoke_old_credential(self, refresh_token: RefreshToken) -> None:
        with self._server.grants.lock:
            refresh_token.revoked = True
            self._server.grants.refresh_tokens.pop(refresh_token.token, None)
