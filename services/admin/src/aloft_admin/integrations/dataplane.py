"""How admin hands executions to data planes (aloft.dataplane.v1 DataPlaneService).

Contract of ``DataPlaneClient``:
- ``route(cluster_label)`` picks the data plane for an execution: an enabled one whose name or labels match the
  resolved execution-cluster label, else the first enabled one; None when no data plane is enabled.
- ``create_execution`` is idempotent on the data plane's side (same id + spec → ``already_existed``), so the
  hand-off may be retried any number of times (the repair loop does).
- ``abort_execution`` is a no-op on the data plane for finished executions, so it may be retried too. When the
  data plane does not hold the execution (NOT_FOUND) it raises ``DataPlaneRefused``: no end event will come.
- Both raise ``DataPlaneUnavailable`` when the data plane cannot be reached or is overloaded; callers keep the
  execution recorded and retry later ("write the side effect's owner first"). ``DataPlaneRefused`` is a permanent
  answer (the request itself is wrong for that data plane): retrying cannot help, the execution ends FAILED.
"""

from __future__ import annotations

import logging
from typing import Protocol

import grpc
from aloft.dataplane.v1 import dataplane_pb2, dataplane_pb2_grpc
from flyteidl.core import identifier_pb2

from aloft_admin.config import AdminConfig, DataPlaneConfig

log = logging.getLogger(__name__)

CALL_TIMEOUT_SECONDS = 10.0


class DataPlaneUnavailable(Exception):
    """The data plane could not take the request now (unreachable, overloaded or refused)."""


class DataPlaneRefused(Exception):
    """The data plane answered that it will never take this request (INVALID_ARGUMENT, FAILED_PRECONDITION ...)."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


# Answers that mean "this request is wrong", not "try later": retrying the same request gets the same answer.
PERMANENT_CODES = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNIMPLEMENTED,
    }
)


def _call_failed(cluster: str, exc: grpc.aio.AioRpcError) -> Exception:
    message = f"data plane {cluster!r}: {exc.code().name}: {exc.details()}"
    if exc.code() in PERMANENT_CODES:
        return DataPlaneRefused(exc.code(), message)
    return DataPlaneUnavailable(message)


class DataPlaneClient(Protocol):
    def route(self, cluster_label: str) -> str | None: ...

    async def create_execution(
        self, cluster: str, request: dataplane_pb2.CreateExecutionRequest
    ) -> dataplane_pb2.CreateExecutionResponse: ...

    async def abort_execution(
        self, cluster: str, id: identifier_pb2.WorkflowExecutionIdentifier, cause: str, principal: str = ""
    ) -> None: ...

    async def close(self) -> None: ...


def choose_data_plane(planes: list[DataPlaneConfig], cluster_label: str) -> DataPlaneConfig | None:
    enabled = [plane for plane in planes if plane.enabled]
    if cluster_label:
        for plane in enabled:
            if plane.name == cluster_label or cluster_label in plane.labels:
                return plane
    return enabled[0] if enabled else None


class GrpcDataPlaneClient:
    """One lazily opened gRPC channel per configured data plane."""

    def __init__(self, planes: list[DataPlaneConfig]) -> None:
        self.planes = {plane.name: plane for plane in planes}
        self._channels: dict[str, grpc.aio.Channel] = {}

    def route(self, cluster_label: str) -> str | None:
        plane = choose_data_plane(list(self.planes.values()), cluster_label)
        return plane.name if plane else None

    def _stub(self, cluster: str) -> dataplane_pb2_grpc.DataPlaneServiceStub:
        plane = self.planes.get(cluster)
        if plane is None or not plane.enabled:
            raise DataPlaneUnavailable(f"data plane {cluster!r} is not configured or not enabled")
        channel = self._channels.get(cluster)
        if channel is None:
            channel = grpc.aio.insecure_channel(plane.endpoint)
            self._channels[cluster] = channel
        return dataplane_pb2_grpc.DataPlaneServiceStub(channel)

    async def create_execution(
        self, cluster: str, request: dataplane_pb2.CreateExecutionRequest
    ) -> dataplane_pb2.CreateExecutionResponse:
        try:
            response: dataplane_pb2.CreateExecutionResponse = await self._stub(cluster).CreateExecution(
                request, timeout=CALL_TIMEOUT_SECONDS
            )
        except grpc.aio.AioRpcError as exc:
            raise _call_failed(cluster, exc) from exc
        return response

    async def abort_execution(
        self, cluster: str, id: identifier_pb2.WorkflowExecutionIdentifier, cause: str, principal: str = ""
    ) -> None:
        request = dataplane_pb2.AbortExecutionRequest(id=id, cause=cause, principal=principal)
        try:
            await self._stub(cluster).AbortExecution(request, timeout=CALL_TIMEOUT_SECONDS)
        except grpc.aio.AioRpcError as exc:
            raise _call_failed(cluster, exc) from exc

    async def close(self) -> None:
        channels, self._channels = self._channels, {}
        for channel in channels.values():
            await channel.close()


class NoDataPlanes:
    """The client when no data plane is configured: nothing is routed, every call is DataPlaneUnavailable (so
    executions stay recorded with their hand-off pending until a data plane is configured)."""

    def route(self, cluster_label: str) -> str | None:
        return None

    async def create_execution(
        self, cluster: str, request: dataplane_pb2.CreateExecutionRequest
    ) -> dataplane_pb2.CreateExecutionResponse:
        raise DataPlaneUnavailable(f"data plane {cluster!r} is not configured or not enabled")

    async def abort_execution(
        self, cluster: str, id: identifier_pb2.WorkflowExecutionIdentifier, cause: str, principal: str = ""
    ) -> None:
        raise DataPlaneUnavailable(f"data plane {cluster!r} is not configured or not enabled")

    async def close(self) -> None:
        return None


def build_dataplane_client(config: AdminConfig) -> DataPlaneClient:
    """The factory server.py calls: a gRPC client for the configured data planes, the no-op one for none."""
    if not config.admin.dataPlanes:
        return NoDataPlanes()
    return GrpcDataPlaneClient(list(config.admin.dataPlanes))
