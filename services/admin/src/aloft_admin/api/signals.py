"""flyteidl.service.SignalService: GetOrCreateSignal, ListSignals, SetSignal."""

from __future__ import annotations

from typing import Any

from flyteidl.admin import signal_pb2
from flyteidl.service import signal_pb2_grpc

from aloft_admin.api.base import RpcMixin


class SignalServicer(RpcMixin, signal_pb2_grpc.SignalServiceServicer):
    async def GetOrCreateSignal(self, request: signal_pb2.SignalGetOrCreateRequest, context: Any) -> signal_pb2.Signal:
        return await self.managers.signals.get_or_create(request)

    async def ListSignals(self, request: signal_pb2.SignalListRequest, context: Any) -> signal_pb2.SignalList:
        return await self.managers.signals.list(request)

    async def SetSignal(self, request: signal_pb2.SignalSetRequest, context: Any) -> signal_pb2.SignalSetResponse:
        return await self.managers.signals.set(request)
