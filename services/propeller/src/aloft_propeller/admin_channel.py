"""gRPC stubs for admin (``propeller.adminEndpoint``) whose channel opens on first use and closes at stop."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import grpc
from aloft_auth.mtls import aio_channel
from flyteidl.service import admin_pb2_grpc

Stub = TypeVar("Stub")


class LazyStub(Generic[Stub]):
    """``stub()`` opens the channel on first use; ``close()`` closes it (a later call opens a new one)."""

    def __init__(
        self,
        endpoint: str,
        make_stub: Callable[[grpc.aio.Channel], Stub],
        interceptors: Sequence[grpc.aio.ClientInterceptor] = (),
    ) -> None:
        self._endpoint = endpoint
        self._interceptors = interceptors  # the bearer token of auth.internal, mTLS credentials (OutgoingCalls)
        self._make_stub = make_stub
        self._channel: grpc.aio.Channel | None = None
        self._stub: Stub | None = None

    def __call__(self) -> Stub:
        if self._stub is None:
            self._channel = aio_channel(self._endpoint, self._interceptors)
            self._stub = self._make_stub(self._channel)
        return self._stub

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
        self._channel = self._stub = None


class LazyAdminStub(LazyStub[admin_pb2_grpc.AdminServiceStub]):
    def __init__(self, endpoint: str, interceptors: Sequence[grpc.aio.ClientInterceptor] = ()) -> None:
        super().__init__(endpoint, admin_pb2_grpc.AdminServiceStub, interceptors)
