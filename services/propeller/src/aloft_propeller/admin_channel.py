"""A gRPC stub for admin's AdminService (``propeller.adminEndpoint``) whose channel opens on first use."""

from __future__ import annotations

import grpc
from flyteidl.service import admin_pb2_grpc


class LazyAdminStub:
    def __init__(self, endpoint: str) -> None:
        self._endpoint = endpoint
        self._channel: grpc.aio.Channel | None = None
        self._stub: admin_pb2_grpc.AdminServiceStub | None = None

    def __call__(self) -> admin_pb2_grpc.AdminServiceStub:
        if self._stub is None:
            self._channel = grpc.aio.insecure_channel(self._endpoint)
            self._stub = admin_pb2_grpc.AdminServiceStub(self._channel)
        return self._stub

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
        self._channel = self._stub = None
