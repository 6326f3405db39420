"""The aloft.dataplane.v1 DataPlaneService servicer: each method hands the request to the manager.

The batch methods (CreateExecutions, StartExecutions) handle each request as its single-request method would, all
of them concurrently, and answer each with the status that method would have answered.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable

import grpc
from aloft.dataplane.v1 import dataplane_pb2, dataplane_pb2_grpc

from aloft_propeller.managers.executions import ExecutionManager
from aloft_service.errors import AloftError

log = logging.getLogger(__name__)
OK = dataplane_pb2.BatchItemStatus()


async def item_status(step: Awaitable[object], method: str) -> tuple[dataplane_pb2.BatchItemStatus, object]:
    """Run one request of a batch: its status (as the server interceptor would map an error) and its response."""
    try:
        return OK, await step
    except AloftError as err:
        return dataplane_pb2.BatchItemStatus(code=err.code.value[0], message=err.message), None
    except Exception:  # as the interceptor: logged with its trace, the answer names only a reference
        reference = uuid.uuid4().hex[:12]
        log.exception("unhandled error in %s (reference %s)", method, reference)
        code = grpc.StatusCode.INTERNAL.value[0]
        return dataplane_pb2.BatchItemStatus(
            code=code, message=f"internal error in {method} (reference {reference})"
        ), None


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

    async def CreateExecutions(
        self, request: dataplane_pb2.CreateExecutionsRequest, context: grpc.aio.ServicerContext
    ) -> dataplane_pb2.CreateExecutionsResponse:
        outcomes = await asyncio.gather(
            *(item_status(self._manager.create(r), "CreateExecution") for r in request.requests)
        )
        response = dataplane_pb2.CreateExecutionsResponse()
        for status, created in outcomes:
            result = response.results.add(status=status)
            if isinstance(created, dataplane_pb2.CreateExecutionResponse):
                result.response.CopyFrom(created)
        return response

    async def StartExecutions(
        self, request: dataplane_pb2.StartExecutionsRequest, context: grpc.aio.ServicerContext
    ) -> dataplane_pb2.StartExecutionsResponse:
        outcomes = await asyncio.gather(
            *(item_status(self._manager.start(r), "StartExecution") for r in request.requests)
        )
        return dataplane_pb2.StartExecutionsResponse(
            results=[dataplane_pb2.StartExecutionResult(status=status) for status, _ in outcomes]
        )

    async def GetExecutionStatus(
        self, request: dataplane_pb2.GetExecutionStatusRequest, context: grpc.aio.ServicerContext
    ) -> dataplane_pb2.ExecutionStatus:
        return await self._manager.get_status(request)

    async def ListExecutions(
        self, request: dataplane_pb2.ListExecutionsRequest, context: grpc.aio.ServicerContext
    ) -> dataplane_pb2.ListExecutionsResponse:
        return await self._manager.list(request)
