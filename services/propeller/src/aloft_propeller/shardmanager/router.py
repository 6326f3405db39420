"""The cluster's DataPlaneService as admin sees it: each call goes to the shard that owns the execution, so that
shard's controller learns of the change at once (a shard down for a restart answers UNAVAILABLE, which admin
retries with backoff). Listing reads the shared workflow store through any serving shard. A batch
(CreateExecutions, StartExecutions) is split by owner: each shard gets its requests in one call, and a shard that
cannot answer fails only its own requests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
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

    async def CreateExecutions(
        self, request: dataplane_pb2.CreateExecutionsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> dataplane_pb2.CreateExecutionsResponse:
        results = await self._forward_batch(
            "CreateExecutions",
            request.requests,
            dataplane_pb2.CreateExecutionsRequest,
            dataplane_pb2.CreateExecutionResult,
            context,
        )
        return dataplane_pb2.CreateExecutionsResponse(results=results)

    async def StartExecutions(
        self, request: dataplane_pb2.StartExecutionsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> dataplane_pb2.StartExecutionsResponse:
        results = await self._forward_batch(
            "StartExecutions",
            request.requests,
            dataplane_pb2.StartExecutionsRequest,
            dataplane_pb2.StartExecutionResult,
            context,
        )
        return dataplane_pb2.StartExecutionsResponse(results=results)

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

    async def _forward_batch(
        self,
        method: str,
        requests: Sequence[Any],
        batch_type: type[Any],
        result_type: Callable[..., R],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> list[R]:
        """Each shard's share of the batch in one call; results in the order of ``requests``."""
        results: list[Any] = [None] * len(requests)
        by_shard: dict[int, list[int]] = {}
        for position, item in enumerate(requests):
            key = ExecutionKey(item.id.project, item.id.domain, item.id.name)
            try:
                by_shard.setdefault(owner_of(self._strategies, key), []).append(position)
            except LookupError:
                status = dataplane_pb2.BatchItemStatus(
                    code=grpc.StatusCode.FAILED_PRECONDITION.value[0],
                    message=f"no propeller shard of this cluster evaluates {key}: add its project/domain to "
                    "manager.shard per-shard-mapping (or a '*' shard)",
                )
                results[position] = result_type(status=status)

        async def forward(index: int, positions: list[int]) -> None:
            shard = self._shards[index]
            answered = await self._call_shard(
                shard, method, batch_type(requests=[requests[p] for p in positions]), context
            )
            if isinstance(answered, dataplane_pb2.BatchItemStatus) or len(answered.results) != len(positions):
                status = (
                    answered
                    if isinstance(answered, dataplane_pb2.BatchItemStatus)
                    else dataplane_pb2.BatchItemStatus(
                        code=grpc.StatusCode.INTERNAL.value[0],
                        message=f"propeller shard {shard.index}: malformed answer",
                    )
                )
                for position in positions:
                    results[position] = result_type(status=status)
                return
            for position, result in zip(positions, answered.results, strict=True):
                results[position] = result

        await asyncio.gather(*(forward(index, positions) for index, positions in by_shard.items()))
        return results

    async def _call_shard(
        self, shard: ShardProcess, method: str, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Any:
        """The shard's answer, or the status that fails every request sent to it."""
        if shard.channel is None or shard.state not in ("running", "starting"):
            return dataplane_pb2.BatchItemStatus(
                code=grpc.StatusCode.UNAVAILABLE.value[0],
                message=f"propeller shard {shard.index} is {shard.state}; retry",
            )
        stub = dataplane_pb2_grpc.DataPlaneServiceStub(shard.channel)
        try:
            return await getattr(stub, method)(
                request, timeout=context.time_remaining(), metadata=context.invocation_metadata()
            )
        except grpc.aio.AioRpcError as exc:
            message = exc.details() or f"propeller shard {shard.index}: {exc.code().name}"
            return dataplane_pb2.BatchItemStatus(code=exc.code().value[0], message=message)

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
