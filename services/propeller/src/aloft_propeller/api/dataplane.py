"""The aloft.dataplane.v1 DataPlaneService servicer: each method hands the request to the manager."""

from __future__ import annotations

import grpc
from aloft.dataplane.v1 import dataplane_pb2, dataplane_pb2_grpc

from aloft_propeller.managers.executions import ExecutionManager


class DataPlaneServicer(dataplane_pb2_grpc.DataPlaneServiceServicer):
    def __init__(self, manager: ExecutionManager) -> None:
        self._manager = manager

    async def CreateExecution(
        self, request: dataplane_pb2.CreateExecutionRequest, context: grpc.aio.ServicerContext
    ) -> dataplane_pb2.CreateExecutionResponse:
        return await self._manager.create(request)

    async def AbortExecution(
        self, request: dataplane_pb2.AbortExecutionRequest, context: grpc.aio.ServicerContext
    ) -> dataplane_pb2.AbortExecutionResponse:
        return await self._manager.abort(request)

    async def StartExecution(
        self, request: dataplane_pb2.StartExecutionRequest, context: grpc.aio.ServicerContext
    ) -> dataplane_pb2.StartExecutionResponse:
        return await self._manager.start(request)

    async def GetExecutionStatus(
        self, request: dataplane_pb2.GetExecutionStatusRequest, context: grpc.aio.ServicerContext
    ) -> dataplane_pb2.ExecutionStatus:
        return await self._manager.get_status(request)

    async def ListExecutions(
        self, request: dataplane_pb2.ListExecutionsRequest, context: grpc.aio.ServicerContext
    ) -> dataplane_pb2.ListExecutionsResponse:
        return await self._manager.list(request)
