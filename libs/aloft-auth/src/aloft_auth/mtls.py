"""Mutual TLS between services (``auth.mutualTls``): server credentials for a service's gRPC port and channel
credentials for its calls to the others. The credentials of outgoing calls travel with the interceptor list every
service already hands its clients (``OutgoingCalls``), so each client opens its channel with ``aio_channel``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import grpc

from aloft_auth.config import MutualTls


def server_credentials(config: MutualTls, *, require_client_cert: bool = True) -> grpc.ServerCredentials | None:
    """None when mTLS is off (the port stays plaintext)."""
    if not config.enabled:
        return None
    pair = (Path(config.keyFile).read_bytes(), Path(config.certFile).read_bytes())
    return grpc.ssl_server_credentials(
        [pair], root_certificates=Path(config.caFile).read_bytes(), require_client_auth=require_client_cert
    )


def channel_credentials(config: MutualTls) -> grpc.ChannelCredentials | None:
    if not config.enabled:
        return None
    return grpc.ssl_channel_credentials(
        root_certificates=Path(config.caFile).read_bytes(),
        private_key=Path(config.keyFile).read_bytes(),
        certificate_chain=Path(config.certFile).read_bytes(),
    )


class OutgoingCalls(list[Any]):
    """A service's client interceptors (tokens), plus the TLS credentials and name override its channels use."""

    def __init__(
        self,
        interceptors: Iterable[Any] = (),
        credentials: grpc.ChannelCredentials | None = None,
        server_name: str = "",
    ) -> None:
        super().__init__(interceptors)
        self.credentials = credentials
        self.server_name = server_name

    @staticmethod
    def of(config: MutualTls, interceptors: Iterable[Any] = ()) -> OutgoingCalls:
        return OutgoingCalls(interceptors, channel_credentials(config), config.serverName)


def _options(calls: Sequence[Any], options: Sequence[tuple[str, Any]]) -> list[tuple[str, Any]]:
    name = getattr(calls, "server_name", "")
    return [*options, ("grpc.ssl_target_name_override", name)] if name else list(options)


def aio_channel(
    endpoint: str,
    calls: Sequence[Any] = (),
    options: Sequence[tuple[str, Any]] = (),
    extra_interceptors: Sequence[Any] = (),
) -> grpc.aio.Channel:
    """A channel to another service: TLS with this service's certificate when ``calls`` carries credentials
    (``OutgoingCalls``), plaintext otherwise."""
    credentials = getattr(calls, "credentials", None)
    interceptors = [*extra_interceptors, *calls]
    if credentials is None:
        return grpc.aio.insecure_channel(endpoint, options=list(options) or None, interceptors=interceptors)
    return grpc.aio.secure_channel(endpoint, credentials, options=_options(calls, options), interceptors=interceptors)


def blocking_channel(endpoint: str, config: MutualTls) -> grpc.Channel:
    """The synchronous counterpart (the cluster resource controller)."""
    credentials = channel_credentials(config)
    if credentials is None:
        return grpc.insecure_channel(endpoint)
    name = [("grpc.ssl_target_name_override", config.serverName)] if config.serverName else None
    return grpc.secure_channel(endpoint, credentials, options=name)
