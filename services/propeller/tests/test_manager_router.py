"""The manager's router refuses an execution no shard of its mapping owns, naming the fix, and a call for a shard
that is restarting is UNAVAILABLE (admin retries it with backoff)."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from aloft.dataplane.v1 import dataplane_pb2
from flyteidl.core import identifier_pb2

from aloft_propeller.sharding.strategy import build_shard_strategy, shard_sections
from aloft_propeller.shardmanager.config import ManagerShardConfig
from aloft_propeller.shardmanager.router import ShardRouter
from aloft_propeller.shardmanager.supervisor import ShardProcess


class Aborted(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code, self.details = code, details


class Context:
    async def abort(self, code: grpc.StatusCode, details: str) -> None:
        raise Aborted(code, details)


def _router(state: str) -> ShardRouter:
    config = ManagerShardConfig.model_validate(
        {"type": "Domain", "per-shard-mapping": [{"ids": ["production"]}, {"ids": ["development"]}]}
    )
    sections = shard_sections(config)
    shards = [ShardProcess(i, s, "127.0.0.1", 1, 2, state=state) for i, s in enumerate(sections)]
    return ShardRouter(shards, [build_shard_strategy(s) for s in sections])


def _create(domain: str) -> dataplane_pb2.CreateExecutionRequest:
    return dataplane_pb2.CreateExecutionRequest(
        id=identifier_pb2.WorkflowExecutionIdentifier(project="p", domain=domain, name="e")
    )


async def test_an_execution_no_shard_owns_is_refused() -> None:
    context: Any = Context()
    with pytest.raises(Aborted) as refused:
        await _router("running").CreateExecution(_create("staging"), context)
    assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "p/staging/e" in refused.value.details and "per-shard-mapping" in refused.value.details


async def test_a_restarting_shard_answers_unavailable() -> None:
    context: Any = Context()
    with pytest.raises(Aborted) as refused:
        await _router("restarting").CreateExecution(_create("development"), context)
    assert refused.value.code == grpc.StatusCode.UNAVAILABLE and "shard 1 is restarting" in refused.value.details


async def test_a_batch_fails_only_the_requests_no_serving_shard_can_take() -> None:
    """CreateExecutions split by owner: an unowned execution is FAILED_PRECONDITION and a restarting shard's share
    UNAVAILABLE, each in its own result, in the order of the requests."""
    context: Any = Context()
    batch = dataplane_pb2.CreateExecutionsRequest(requests=[_create("development"), _create("staging")])
    answer = await _router("restarting").CreateExecutions(batch, context)
    codes = [grpc.StatusCode.UNAVAILABLE.value[0], grpc.StatusCode.FAILED_PRECONDITION.value[0]]
    assert [r.status.code for r in answer.results] == codes
    assert "shard 1 is restarting" in answer.results[0].status.message
    assert "p/staging/e" in answer.results[1].status.message
    starts = dataplane_pb2.StartExecutionsRequest(
        requests=[dataplane_pb2.StartExecutionRequest(id=_create("staging").id)]
    )
    started = await _router("running").StartExecutions(starts, context)
    assert [r.status.code for r in started.results] == [grpc.StatusCode.FAILED_PRECONDITION.value[0]]
