"""Build admin's auth pieces from the ``auth`` section: the guard, the authorization server (Self) or the external
server's metadata (External), the token-endpoint rate limiter and the audit log."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aloft_auth.audit import AuditLog
from aloft_auth.config import AuthConfig
from aloft_auth.enforce import Guard
from aloft_auth.ratelimit import RateLimiter
from aloft_auth.tokens import KeyCache, TokenVerifier, remote_verifier

from aloft_admin.auth.authserver import SelfAuthorizationServer, build_authorization_server
from aloft_admin.auth.keys import SigningKeys, load_signing_keys
from aloft_admin.auth.login import UserLogin
from aloft_service.errors import Unavailable

log = logging.getLogger(__name__)


@dataclass
class ExternalMetadata:
    """The external authorization server's metadata, fetched once (with Flyte's retries) and kept."""

    config: AuthConfig
    _cached: dict[str, Any] | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def get(self) -> dict[str, Any]:
        async with self._lock:
            if self._cached is None:
                self._cached = await self._fetch()
            return self._cached

    async def _fetch(self) -> dict[str, Any]:
        external = self.config.appAuth.externalAuthServer
        url = self.config.metadata_url()
        attempts = external.retryAttempts + 1
        async with httpx.AsyncClient(timeout=10.0) as client:
            for attempt in range(attempts):
                try:
                    return dict((await client.get(url)).raise_for_status().json())
                except (httpx.HTTPError, ValueError) as exc:
                    log.warning("external authorization server metadata %s: %s (attempt %d)", url, exc, attempt + 1)
                    if attempt + 1 < attempts:
                        await asyncio.sleep(external.retryDelay.total_seconds())
        raise Unavailable(f"the external authorization server's metadata at {url} is unreachable")


@dataclass
class AdminAuth:
    config: AuthConfig
    guard: Guard
    audit: AuditLog
    limiter: RateLimiter
    server: SelfAuthorizationServer | None = None
    keys: SigningKeys | None = None
    external: ExternalMetadata | None = None
    login: UserLogin | None = None  # browser users through OIDC (auth.userAuth.openId)

    async def oauth2_metadata(self) -> dict[str, Any]:
        if self.server is not None:
            return self.server.metadata()
        assert self.external is not None
        return await self.external.get()


def build_admin_auth(config: AuthConfig, data_dir: Path, cors_origins: Sequence[str] = ()) -> AdminAuth | None:
    """None when auth is off. Self mode reads (or makes) the signing keys and verifies tokens with them locally."""
    if not config.enabled:
        return None
    audit = AuditLog()
    limiter = RateLimiter(config.tokenRateLimit)
    login = UserLogin(config, data_dir, audit, cors_origins) if config.userAuth.openId.baseUrl else None
    if config.appAuth.authServerType == "External":
        guard = Guard(config, remote_verifier(config), audit=audit)
        audit.configuration(f"external authorization server {config.issuer()}")
        return AdminAuth(config, guard, audit, limiter, external=ExternalMetadata(config), login=login)
    self_config = config.appAuth.selfAuthServer
    keys = load_signing_keys(self_config.tokenSigningRSAKeyFile, self_config.oldTokenSigningRSAKeyFile, data_dir)

    async def local_jwks() -> dict[str, Any]:
        return keys.public_jwks()

    verifier = TokenVerifier(KeyCache(local_jwks), config.issuer(), config.audiences())
    server = build_authorization_server(config, keys, audit)
    audit.configuration(
        f"self authorization server issuer={config.issuer()} clients={sorted(self_config.staticClients)} "
        f"rbac_roles={sorted(config.rbac.roles)}"
    )
    guard = Guard(config, verifier, audit=audit)
    return AdminAuth(config, guard, audit, limiter, server=server, keys=keys, login=login)
