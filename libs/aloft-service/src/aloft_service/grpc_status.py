"""Turning AloftError into a gRPC status with packed details (google.rpc.Status), and back on the client."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import status_pb2
from grpc_status import rpc_status

from aloft_service.errors import AloftError


def to_rpc_status(error: AloftError) -> grpc.Status:
    status = status_pb2.Status(code=error.code.value[0], message=error.message)
    if error.details is not None:
        packed = any_pb2.Any()
        packed.Pack(error.details)
        status.details.append(packed)
    return rpc_status.to_status(status)


async def abort_with(context: grpc.aio.ServicerContext, error: AloftError) -> None:
    """Abort the RPC with the error's code, message and details (raises grpc's AbortError)."""
    await context.abort_with_status(to_rpc_status(error))
