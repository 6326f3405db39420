"""Service-to-service credentials: OAuth2 client credentials (Authlib's httpx client), cached and replaced before
they expire, sent on every gRPC call by a client interceptor."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

import grpc
import httpx

with warnings.catch_warnings():
    # Authlib 1.9 prefers the httpx2 package and warns when it falls back to httpx, which it supports.
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import AsyncOAuth2Client

from aloft_auth.config import AuthConfig, InternalClient
from aloft_auth.mtls import OutgoingCalls

log = logging.getLogger(__name__)


class TokenUnavailable(Exception):
    """No access token could be obtained (wrong credentials, authorization server down); never holds the secret."""


class ClientCredentialsTokenSource:
    """Access tokens for one client, fetched with the client-credentials grant and cached until shortly before
    expiry (``refreshBefore``, and at most 80% of their lifetime)."""

    def __init__(
        self,
        client: InternalClient,
        metadata_url: str,
        header: str = "flyte-authorization",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.metadata_url = metadata_url
        self.header = header.lower()
        self._clock = clock
        self._token: str | None = None
        self._renew_at = 0.0
        self._token_url = client.tokenUrl
        self._lock = asyncio.Lock()
        self.fetches = 0  # tokens obtained so far (tests and metrics)

    async def _discover_token_url(self) -> str:
        if not self._token_url:
            try:
                async with httpx.AsyncClient(timeout=10.0) as http:
                    metadata = (await http.get(self.metadata_url)).raise_for_status().json()
                self._token_url = str(metadata["token_endpoint"])
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                raise TokenUnavailable(f"cannot discover the token endpoint from {self.metadata_url}: {exc}") from exc
        return self._token_url

    async def _fetch(self) -> None:
        secret = self.client.client_secret()
        if not secret:
            raise TokenUnavailable(
                f"no client secret for {self.client.clientId!r}: set auth.internal.clientSecretLocation "
                f"or ${self.client.clientSecretEnvVar}"
            )
        extra: dict[str, Any] = {"audience": self.client.audience} if self.client.audience else {}
        url = await self._discover_token_url()
        async with AsyncOAuth2Client(
            client_id=self.client.clientId,
            client_secret=secret,
            scope=" ".join(self.client.scopes),
            token_endpoint_auth_method="client_secret_basic",
            timeout=10.0,
        ) as http:
            try:
                token = await http.fetch_token(url, grant_type="client_credentials", **extra)
            except Exception as exc:  # authlib raises OAuthError, httpx raises HTTPError: both mean "no token"
                raise TokenUnavailable(
                    f"client {self.client.clientId!r} got no token from {url}: {type(exc).__name__}: "
                    f"{getattr(exc, 'error', '') or 'request failed'}"
                ) from exc
        now = self._clock()
        lifetime = float(token.get("expires_in") or 300)
        margin = min(self.client.refreshBefore.total_seconds(), lifetime * 0.2)
        self._token = str(token["access_token"])
        self._renew_at = now + lifetime - margin
        self.fetches += 1
        log.info("obtained an access token for client %s (valid %.0fs)", self.client.clientId, lifetime)

    async def token(self) -> str:
        async with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                await self._fetch()
            assert self._token is not None
            return self._token

    def invalidate(self) -> None:
        self._token = None

    async def metadata(self) -> list[tuple[str, str]]:
        return [(self.header, f"Bearer {await self.token()}")]


class BearerTokenInterceptor(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Adds the token to every call; a call answered UNAUTHENTICATED gets a fresh token and is tried once more
    (the authorization server may have rotated its keys, or the token been revoked)."""

    def __init__(self, source: ClientCredentialsTokenSource) -> None:
        self.source = source

    async def _call(self, continuation: Any, details: Any, request: Any) -> Any:
        try:
            auth = await self.source.metadata()
        except TokenUnavailable as exc:
            raise _TokenError(str(exc)) from exc
        metadata = [(k, v) for k, v in (details.metadata or []) if k != self.source.header] + auth
        call = await continuation(details._replace(metadata=metadata), request)
        return call

    async def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        call = await self._call(continuation, client_call_details, request)
        if await call.code() == grpc.StatusCode.UNAUTHENTICATED:
            self.source.invalidate()
            call = await self._call(continuation, client_call_details, request)
        return call


class _TokenError(grpc.aio.AioRpcError):
    """A call that never left because there was no token: UNAUTHENTICATED with the reason, like the server's."""

    def __init__(self, message: str) -> None:
        super().__init__(grpc.StatusCode.UNAUTHENTICATED, grpc.aio.Metadata(), grpc.aio.Metadata(), details=message)


def token_source(auth: AuthConfig, client: InternalClient | None = None) -> ClientCredentialsTokenSource | None:
    """The token source of a service's outgoing calls (None when auth is off)."""
    if not auth.enabled:
        return None
    return ClientCredentialsTokenSource(client or auth.internal, auth.metadata_url(), auth.grpcAuthorizationHeader)


def client_interceptors(auth: AuthConfig, client: InternalClient | None = None) -> OutgoingCalls:
    """Tokens of ``client`` (default ``auth.internal``) when auth is on, and the mTLS credentials when that is."""
    source = token_source(auth, client)
    return OutgoingCalls.of(auth.mutualTls, [BearerTokenInterceptor(source)] if source is not None else [])


# One token cache per process and client: every channel of a service (propeller has several to admin and one to
# datacatalog) shares the client's token rather than fetching its own.
_SHARED: dict[tuple[str, str, str, str], BearerTokenInterceptor] = {}


def outgoing_interceptors(auth: AuthConfig) -> OutgoingCalls:
    """The interceptors of a service's outgoing calls with ``auth.internal`` credentials (none when auth is off),
    carrying the mTLS credentials of its channels (``aloft_auth.mtls.aio_channel``)."""
    if not auth.enabled:
        return OutgoingCalls.of(auth.mutualTls)
    client = auth.internal
    key = (client.clientId, client.clientSecretLocation, client.clientSecretEnvVar, auth.metadata_url())
    if key not in _SHARED:
        source = token_source(auth)
        assert source is not None
        _SHARED[key] = BearerTokenInterceptor(source)
    return OutgoingCalls.of(auth.mutualTls, [_SHARED[key]])


class BlockingBearerTokenInterceptor(grpc.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """``BearerTokenInterceptor`` for synchronous gRPC channels (the cluster resource controller): the token source
    runs on this interceptor's own event loop; a call answered UNAUTHENTICATED is tried once more, fresh token."""

    def __init__(self, source: ClientCredentialsTokenSource) -> None:
        self.source = source
        self._loop = asyncio.new_event_loop()
        self._lock = threading.Lock()

    def _metadata(self) -> list[tuple[str, str]]:
        with self._lock:
            return self._loop.run_until_complete(self.source.metadata())

    def _call(self, continuation: Any, details: Any, request: Any) -> Any:
        try:
            auth = self._metadata()
        except TokenUnavailable as exc:
            raise _BlockingTokenError(str(exc)) from exc
        metadata = [(k, v) for k, v in (details.metadata or []) if k != self.source.header] + auth
        return continuation(details._replace(metadata=metadata), request)

    def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        call = self._call(continuation, client_call_details, request)
        if call.code() == grpc.StatusCode.UNAUTHENTICATED:
            self.source.invalidate()
            call = self._call(continuation, client_call_details, request)
        return call


class _BlockingTokenError(grpc.RpcError):  # type: ignore[misc]
    """No token, so no call: UNAUTHENTICATED with the reason (never the secret)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self._message = message

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAUTHENTICATED

    def details(self) -> str:
        return self._message


def blocking_outgoing_interceptors(auth: AuthConfig) -> list[grpc.UnaryUnaryClientInterceptor]:
    """Interceptors for a synchronous channel's calls with ``auth.internal`` credentials ([] when auth is off)."""
    source = token_source(auth)
    return [BlockingBearerTokenInterceptor(source)] if source is not None else []
