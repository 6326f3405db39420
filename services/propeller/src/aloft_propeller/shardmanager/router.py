"""The cluster's DataPlaneService as admin sees it: each call goes to the shard that owns the execution, so that
shard's controller learns of the change at once (a shard down for a restart answers UNAVAILABLE, which admin
retries with backoff). Listing reads the shared workflow store through any serving shard."""

from __future__ import annotations

from typing import Any, TypeVar

import grpc
from aloft.dataplane.v1 import dataplane_pb2, dataplane_pb2_grpc
from flyteidl.core import identifier_pb2

from aloft_propeller.sharding.strategy import ShardStrategy, owner_of
from aloft_propeller.shardmanager.supervisor import ShardProcess
from aloft_propeller.store.base import ExecutionKey

R = TypeVar("R")


class ShardRouter(dataplane_pb2_grpc.DataPlaneServiceServicer):
    def __init__(self, shards: list[ShardProcess], strategies: list[ShardStrategy]) -> None:
        self._shards = shards
        self._strategies = strategies

    async def CreateExecution(
        self, request: dataplane_pb2.CreateExecutionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> dataplane_pb2.CreateExecutionResponse:
        return await self._forward(await self._owner(request.id, context), "CreateExecution", request, context)

    async def AbortExecution(
        self, request: dataplane_pb2.AbortExecutionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> dataplane_pb2.AbortExecutionResponse:
        return await self._forward(await self._owner(request.id, context), "AbortExecution", request, context)

    async def StartExecution(
        self, request: dataplane_pb2.StartExecutionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> dataplane_pb2.StartExecutionResponse:
        return await self._forward(await self._owner(request.id, context), "StartExecution", request, context)

    async def GetExecutionStatus(
        self, request: dataplane_pb2.GetExecutionStatusRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> dataplane_pb2.ExecutionStatus:
        return await self._forward(await self._owner(request.id, context), "GetExecutionStatus", request, context)

    async def ListExecutions(
        self, request: dataplane_pb2.ListExecutionsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> dataplane_pb2.ListExecutionsResponse:
        serving = next((s for s in self._shards if s.state == "running"), self._shards[0])
        return await self._forward(serving, "ListExecutions", request, context)

    async def _owner(
        self, execution_id: identifier_pb2.WorkflowExecutionIdentifier, context: grpc.aio.ServicerContext[Any, Any]
    ) -> ShardProcess:
        key = ExecutionKey(execution_id.project, execution_id.domain, execution_id.name)
        try:
            return self._shards[owner_of(self._strategies, key)]
        except LookupError:  # a Project/Domain mapping without a wildcard shard does not cover this id (as in Flyte)
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"no propeller shard of this cluster evaluates {key}: add its project/domain to manager.shard "
                "per-shard-mapping (or a '*' shard)",
            )
            raise  # abort raises; this keeps type checkers satisfied

    async def _forward(
        self, shard: ShardProcess, method: str, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Any:
        if shard.channel is None or shard.state not in ("running", "starting"):
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"propeller shard {shard.index} is {shard.state}; retry")
        stub = dataplane_pb2_grpc.DataPlaneServiceStub(shard.channel)
        remaining = context.time_remaining()
        try:
            return await getattr(stub, method)(request, timeout=remaining, metadata=context.invocation_metadata())
        except grpc.aio.AioRpcError as exc:
            await context.abort(exc.code(), exc.details() or f"propeller shard {shard.index}: {exc.code().name}")
