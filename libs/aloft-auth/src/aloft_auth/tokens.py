"""Verify bearer access tokens (signed JWTs) with PyJWT against the authorization server's published keys."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

from aloft_auth.config import AuthConfig

ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "PS256"]
# A token signed with a key we do not know refetches the key set, at most this often (key rotation).
JWKS_REFETCH_SECONDS = 30.0


class InvalidToken(Exception):
    """The token is missing, malformed, expired, tampered with, or for another audience/issuer. The message says
    which, and never holds the token."""


@dataclass(frozen=True)
class Identity:
    """Who is calling, from a verified access token."""

    subject: str
    client_id: str = ""
    scopes: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    token_id: str = ""
    claims: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


def identity_from_claims(claims: dict[str, Any]) -> Identity:
    scope = claims.get("scope") or claims.get("scp") or ""
    scopes = tuple(scope.split()) if isinstance(scope, str) else tuple(str(s) for s in scope)
    groups = claims.get("groups") or []
    client_id = str(claims.get("client_id") or claims.get("cid") or claims.get("azp") or "")
    return Identity(
        subject=str(claims.get("sub") or client_id),
        client_id=client_id,
        scopes=scopes,
        groups=tuple(str(g) for g in groups) if isinstance(groups, list) else (),
        token_id=str(claims.get("jti", "")),
        claims=claims,
    )


KeySetLoader = Callable[[], Awaitable[dict[str, Any]]]


class KeyCache:
    """The verifier's copy of a JWKS, reloaded when a token names a key id it does not hold (rotation)."""

    def __init__(self, load: KeySetLoader, clock: Callable[[], float] = time.monotonic) -> None:
        self._load = load
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> jwt.PyJWK:
        if kid in self._keys:
            return self._keys[kid]
        async with self._lock:
            now = self._clock()
            if kid not in self._keys and (self._loaded_at is None or now - self._loaded_at >= JWKS_REFETCH_SECONDS):
                jwks = await self._load()
                self._keys = {k.key_id: k for k in jwt.PyJWKSet.from_dict(jwks).keys if k.key_id}
                self._loaded_at = now
        if kid not in self._keys:
            raise InvalidToken("the token is signed with an unknown key")
        return self._keys[kid]


def remote_jwks_loader(metadata_url: str, timeout: float = 10.0) -> KeySetLoader:
    """Loads the JWKS named by the authorization server's RFC 8414 / OIDC discovery metadata."""

    async def load() -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=timeout) as client:
            try:
                metadata = (await client.get(metadata_url)).raise_for_status().json()
                return dict((await client.get(metadata["jwks_uri"])).raise_for_status().json())
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                raise InvalidToken(f"cannot load the authorization server's keys ({type(exc).__name__})") from exc

    return load


class TokenVerifier:
    def __init__(self, keys: KeyCache, issuer: str, audiences: list[str], leeway_seconds: float = 0.0) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audiences = audiences
        self.leeway = leeway_seconds

    async def verify(self, token: str) -> Identity:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("the token is not a signed JWT") from exc
        if header.get("alg") not in ALGORITHMS:
            raise InvalidToken(f"tokens signed with {header.get('alg')!r} are not accepted")
        key = await self.keys.key(str(header.get("kid", "")))
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self.audiences,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("the token has expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise InvalidToken("the token is for another audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise InvalidToken("the token is from another issuer") from exc
        except jwt.InvalidSignatureError as exc:
            raise InvalidToken("the token's signature is invalid") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"the token is invalid ({type(exc).__name__})") from exc
        return identity_from_claims(claims)


def remote_verifier(config: AuthConfig) -> TokenVerifier:
    """A verifier for services other than the authorization server: keys come from its published metadata."""
    return TokenVerifier(KeyCache(remote_jwks_loader(config.metadata_url())), config.issuer(), config.audiences())


def bearer_token(value: str | None) -> str | None:
    """The token of an ``Authorization``-style header value (``Bearer <token>``; flytekit also sends it bare)."""
    if not value:
        return None
    scheme, _, rest = value.strip().partition(" ")
    if rest and scheme.lower() == "bearer":
        return rest.strip() or None
    return None if rest else scheme
