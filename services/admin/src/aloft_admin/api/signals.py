"""flyteidl.service.SignalService: GetOrCreateSignal, ListSignals, SetSignal."""

from __future__ import annotations

from flyteidl.service import signal_pb2_grpc

from aloft_admin.api.base import RpcMixin


class SignalServicer(RpcMixin, signal_pb2_grpc.SignalServiceServicer):
    pass
