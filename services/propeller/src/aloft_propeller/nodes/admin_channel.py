"""A gRPC channel to admin (``propeller.adminEndpoint``) for the node handlers that call it (launch plans, signals):
opened on first use, closed at stop (the node handler registry owns the clients)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import grpc

Stub = TypeVar("Stub")


class LazyStub(Generic[Stub]):
    def __init__(self, endpoint: str, make_stub: Callable[[grpc.aio.Channel], Stub]) -> None:
        self._endpoint = endpoint
        self._make_stub = make_stub
        self._channel: grpc.aio.Channel | None = None
        self._stub: Stub | None = None

    def get(self) -> Stub:
        if self._stub is None:
            self._channel = grpc.aio.insecure_channel(self._endpoint)
            self._stub = self._make_stub(self._channel)
        return self._stub

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
        self._channel, self._stub = None, None
