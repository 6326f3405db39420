"""Admin's own OAuth2 authorization server (Flyte's ``appAuth.selfAuthServer``), built on Authlib's grant machinery.

Grants: client credentials (confidential clients, bcrypt-hashed secrets), authorization code with PKCE (S256 or
plain, required) and refresh token. Access tokens are RFC 9068 JWTs signed with admin's RSA key (Authlib's
JWTBearerTokenGenerator); authorization codes and refresh tokens are opaque, single use, and kept in admin's
database (``grants.PersistedGrants``) for their lifespan, so a restart or another replica can redeem them.
Authlib's hooks are synchronous: ``token_response``/``authorization_response`` run them in a worker thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import bcrypt
from aloft_auth.audit import AuditLog
from aloft_auth.config import AuthConfig, StaticClient
from aloft_auth.oauth_requests import authorization_response
from authlib.common.security import generate_token
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import (
    AuthorizationCodeMixin,
    ClientMixin,
    OAuth2Request,
    TokenMixin,
    grants,
)
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator

from aloft_admin.auth.grants import PersistedGrants
from aloft_admin.auth.keys import SigningKeys
from aloft_admin.repositories.models.oauth import CODE, REFRESH_TOKEN

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

    @staticmethod
    def from_payload(data: dict[str, Any] | None) -> User | None:
        if not data:
            return None
        return User(str(data["subject"]), tuple(data.get("groups", ())), data.get("name", ""), data.get("email", ""))


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
        self.grants: PersistedGrants | None = None  # admin's database, bound by AdminDeps
        self.clients = {cid: Client(c) for cid, c in config.appAuth.selfAuthServer.staticClients.items()}
        self.register_token_generator("default", _TokenGenerator(config, keys))

    @property
    def self_config(self) -> Any:
        return self.config.appAuth.selfAuthServer

    @property
    def store(self) -> PersistedGrants:
        assert self.grants is not None, "the authorization server has no grant store"
        return self.grants

    async def token_response(self, request: OAuth2Request) -> Reply:
        self.store.bind(asyncio.get_running_loop())
        reply: Reply = await asyncio.to_thread(self.create_token_response, request)
        await asyncio.to_thread(self.store.sweep, self.clock())
        return reply

    async def authorization_response(self, request: OAuth2Request, user: User) -> Reply:
        self.store.bind(asyncio.get_running_loop())
        reply: Reply = await asyncio.to_thread(authorization_response, self, request, user)
        return reply

    def query_client(self, client_id: str) -> Client | None:
        return self.clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        refresh = token.get("refresh_token")
        if refresh:
            now = self.clock()
            payload = {"scope": token.get("scope", ""), "user": asdict(request.user) if request.user else None}
            expires = now + self.self_config.refreshTokenLifespan.total_seconds()
            self.store.save(REFRESH_TOKEN, refresh, request.client.get_client_id(), payload, now, expires)
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
        now = server.clock()
        record = AuthorizationCode(
            code=code,
            client_id=request.client.get_client_id(),
            redirect_uri=data.get("redirect_uri", ""),
            scope=request.scope or "",
            user=request.user,
            expires_at=now + server.self_config.authorizationCodeLifespan.total_seconds(),
            code_challenge=data.get("code_challenge", ""),
            code_challenge_method=data.get("code_challenge_method", ""),
        )
        payload = {k: v for k, v in asdict(record).items() if k not in ("code", "client_id", "expires_at")}
        server.store.save(CODE, code, record.client_id, payload, now, record.expires_at)
        return record

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        server = self._server
        found = server.store.find(CODE, code, client.get_client_id(), server.clock())
        if found is None:
            return None
        data, expires_at = found
        user = User.from_payload(data.pop("user"))
        if user is None:
            return None
        return AuthorizationCode(code=code, client_id=client.get_client_id(), user=user, expires_at=expires_at, **data)

    def save_token(self, token: dict[str, Any]) -> None:
        # Consumed before the tokens are kept or returned: of two concurrent redemptions only one gets tokens.
        if not self._server.store.consume(CODE, self.request.authorization_code.code):
            raise InvalidGrantError("the authorization code was already used")
        super().save_token(token)

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        return None  # consumed in save_token

    def authenticate_user(self, authorization_code: AuthorizationCode) -> User:
        return authorization_code.user


class _RefreshToken(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotate refresh tokens: each is used once

    @property
    def _server(self) -> SelfAuthorizationServer:
        return self.server  # type: ignore[no-any-return]

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken | None:
        server = self._server
        client = self.request.client
        found = server.store.find(REFRESH_TOKEN, refresh_token, client.get_client_id(), server.clock())
        if found is None:
            return None
        data, expires_at = found
        return RefreshToken(refresh_token, client, data["scope"], User.from_payload(data["user"]), expires_at)

    def save_token(self, token: dict[str, Any]) -> None:
        # Rotation: the presented refresh token is consumed before its successor is kept or returned.
        if not self._server.store.consume(REFRESH_TOKEN, self.request.refresh_token.token):
            raise InvalidGrantError("the refresh token was already used")
        super().save_token(token)

    def authenticate_user(self, refresh_token: RefreshToken) -> User | None:
        return refresh_token.user

    def revoke_old_credential(self, refresh_token: RefreshToken) -> None:
        refresh_token.revoked = True  # consumed in save_token
