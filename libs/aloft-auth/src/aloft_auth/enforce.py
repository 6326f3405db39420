"""Enforcement: one Guard decides every call (gRPC interceptor and HTTP routes alike) — token, then permission."""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import grpc
from google.protobuf.message import Message

from aloft_auth.audit import AuditLog
from aloft_auth.config import AuthConfig
from aloft_auth.rbac import (
    FILTERED_LISTS,
    PUBLIC,
    Authorizer,
    Scope,
    UnknownMethod,
    permission_for,
    request_scopes,
)
from aloft_auth.tokens import Identity, InvalidToken, TokenVerifier, bearer_token
from aloft_service.errors import PermissionDenied, Unauthenticated

# The caller of the RPC being served (None when auth is off or the RPC is public).
current_identity: contextvars.ContextVar[Identity | None] = contextvars.ContextVar("aloft_identity", default=None)


class Guard:
    def __init__(
        self,
        config: AuthConfig,
        verifier: TokenVerifier,
        authorizer: Authorizer | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self.config = config
        self.verifier = verifier
        self.authorizer = authorizer or Authorizer(config.rbac)
        self.audit = audit or AuditLog()
        self.headers = tuple(
            dict.fromkeys(
                h.lower() for h in (config.grpcAuthorizationHeader, config.httpAuthorizationHeader, "authorization")
            )
        )

    def requires_token(self, full_method: str) -> bool:
        try:
            return permission_for(full_method) is not PUBLIC
        except UnknownMethod:
            return True

    def has_token(self, headers: Mapping[str, str]) -> bool:
        return self._token(headers) is not None

    def _token(self, headers: Mapping[str, str]) -> str | None:
        for name in self.headers:
            token = bearer_token(headers.get(name))
            if token:
                return token
        return None

    async def authenticate(self, headers: Mapping[str, str], method: str, peer: str = "") -> Identity:
        token = self._token(headers)
        if token is None:
            self.audit.unauthenticated(method, "no bearer token", peer)
            raise Unauthenticated("authentication required: send a bearer access token")
        try:
            identity = await self.verifier.verify(token)
        except InvalidToken as exc:
            self.audit.unauthenticated(method, str(exc), peer)
            raise Unauthenticated(f"invalid access token: {exc}") from None
        self.audit.authenticated(identity, method)
        return identity

    def authorize(self, identity: Identity, full_method: str, request: Message | None) -> None:
        try:
            permission = permission_for(full_method)
        except UnknownMethod as exc:
            self.audit.denied(identity, full_method, str(exc))
            raise PermissionDenied(str(exc)) from None
        if permission is None:
            return
        scopes = request_scopes(request) if request is not None else set()
        if not scopes and full_method.lstrip("/") in FILTERED_LISTS:
            visible = self.authorizer.visible_projects(identity, permission)
            scopes = {Scope(p, "") for p in sorted(visible)[:1]} if visible is not None else set()
        reason = self.authorizer.denied(identity, permission, scopes)
        if reason is not None:
            self.audit.denied(identity, full_method, reason)
            raise PermissionDenied(f"permission denied: {reason}")

    async def check(
        self, headers: Mapping[str, str], full_method: str, request: Message | None, peer: str = ""
    ) -> Identity | None:
        """Authenticate and authorize one call; the caller's identity (None for public RPCs)."""
        if not self.requires_token(full_method):
            return None
        identity = await self.authenticate(headers, full_method, peer)
        self.authorize(identity, full_method, request)
        return identity


def _metadata(context: grpc.aio.ServicerContext) -> dict[str, str]:
    return {k.lower(): v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}


Handler = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Refuses every RPC but the public ones without a valid token (UNAUTHENTICATED) or permission
    (PERMISSION_DENIED), before the servicer runs; the servicer sees the caller in ``current_identity``."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard
        # The guarding handler per method, built once (the handler the chain returns is the same object each call).
        self._guarded: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or not self.guard.requires_token(method):
            return handler
        known = self._guarded.get(method)
        if known is not None and known[0] is handler:
            return known[1]
        guarded = self._guard(handler, method)
        self._guarded[method] = (handler, guarded)
        return guarded

    def _guard(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        async def admit(request: Any, context: grpc.aio.ServicerContext) -> contextvars.Token[Identity | None]:
            message = request if isinstance(request, Message) else None
            try:
                identity = await self.guard.check(_metadata(context), method, message, context.peer())
            except (Unauthenticated, PermissionDenied) as err:
                await context.abort(err.code, err.message)
            return current_identity.set(identity)

        if handler.unary_unary is not None:
            inner = handler.unary_unary

            async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                reset = await admit(request, context)
                try:
                    return await inner(request, context)
                finally:
                    current_identity.reset(reset)

            return grpc.unary_unary_rpc_method_handler(
                unary_unary, handler.request_deserializer, handler.response_serializer
            )
        if handler.unary_stream is not None:
            inner_stream = handler.unary_stream

            async def unary_stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
                await admit(request, context)
                async for item in inner_stream(request, context):
                    yield item

            return grpc.unary_stream_rpc_method_handler(
                unary_stream, handler.request_deserializer, handler.response_serializer
            )

        async def refuse_streams(request_iterator: Any, context: grpc.aio.ServicerContext) -> Any:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "client-streaming RPCs are not served with auth on")

        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(
                refuse_streams, handler.request_deserializer, handler.response_serializer
            )
        return handler


def resource_server_interceptors(config: AuthConfig) -> list[grpc.aio.ServerInterceptor]:
    """For services other than admin (datacatalog, the data plane): with auth on, every RPC but health and
    reflection needs a valid token, verified with the authorization server's published keys."""
    if not config.enabled:
        return []
    from aloft_auth.tokens import remote_verifier

    return [AuthInterceptor(Guard(config, remote_verifier(config)))]
