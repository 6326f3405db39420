"""Signals through admin's SignalService (served at ``propeller.adminEndpoint``, next to AdminService)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import grpc
from flyteidl.admin import signal_pb2
from flyteidl.core import identifier_pb2, literals_pb2, types_pb2
from flyteidl.service import signal_pb2_grpc

from aloft_propeller.admin_channel import LazyStub
from aloft_service.errors import Unavailable

_TRANSIENT = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED)
_CALL_TIMEOUT = 10.0


class SignalRejected(Exception):
    """Admin refused the signal for good (e.g. the same id already exists with another type)."""


class SignalClient(Protocol):
    async def get_or_create(
        self, signal_id: identifier_pb2.SignalIdentifier, literal_type: types_pb2.LiteralType
    ) -> literals_pb2.Literal | None:
        """The signal's value once set, else None (the signal is created, unset, on first call)."""
        ...


class AdminSignalClient:
    def __init__(self, endpoint: str, interceptors: Sequence[grpc.aio.ClientInterceptor] = ()) -> None:
        self._signals = LazyStub(endpoint, signal_pb2_grpc.SignalServiceStub, interceptors)

    async def get_or_create(
        self, signal_id: identifier_pb2.SignalIdentifier, literal_type: types_pb2.LiteralType
    ) -> literals_pb2.Literal | None:
        request = signal_pb2.SignalGetOrCreateRequest(id=signal_id, type=literal_type)
        try:
            signal = await self._signals().GetOrCreateSignal(request, timeout=_CALL_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in _TRANSIENT:
                raise Unavailable(f"signal {signal_id.signal_id}: admin is unavailable ({exc.details()})") from exc
            raise SignalRejected(f"signal {signal_id.signal_id}: {exc.code().name}: {exc.details()}") from exc
        if signal.HasField("value") and signal.value.WhichOneof("value") is not None:
            return signal.value
        return None

    async def close(self) -> None:
        await self._signals.close()
