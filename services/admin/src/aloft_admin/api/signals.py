"""flyteidl.service.SignalService: GetOrCreateSignal, ListSignals, SetSignal."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from flyteidl.admin import signal_pb2
from flyteidl.service import signal_pb2_grpc

from aloft_admin.api.base import RpcMixin
from aloft_admin.managers.signals import SignalManager


class SignalServicer(RpcMixin, signal_pb2_grpc.SignalServiceServicer):
    @cached_property
    def manager(self) -> SignalManager:
        return SignalManager(self.deps)

    async def GetOrCreateSignal(self, request: signal_pb2.SignalGetOrCreateRequest, context: Any) -> signal_pb2.Signal:
        return await self.manager.get_or_create(request)

    async def ListSignals(self, request: signal_pb2.SignalListRequest, context: Any) -> signal_pb2.SignalList:
        return await self.manager.list(request)

    async def SetSignal(self, request: signal_pb2.SignalSetRequest, context: Any) -> signal_pb2.SignalSetResponse:
        return await self.manager.set(request)
