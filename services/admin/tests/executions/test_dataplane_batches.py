"""The hand-off's calls to one data plane in batches: CreateExecutions / StartExecutions for the requests waiting
together, each request answered as its own call would be, and one call per request for a data plane without them."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from aloft.dataplane.v1 import dataplane_pb2
from flyteidl.core import identifier_pb2

from aloft_admin.config import DataPlaneConfig
from aloft_admin.integrations.dataplane import DataPlaneRefused, DataPlaneUnavailable, GrpcDataPlaneClient


def _id(name: str) -> identifier_pb2.WorkflowExecutionIdentifier:
    return identifier_pb2.WorkflowExecutionIdentifier(project="p", domain="d", name=name)


def _request(name: str) -> dataplane_pb2.CreateExecutionRequest:
    return dataplane_pb2.CreateExecutionRequest(id=_id(name), closure_uri="file:///c.pb", cluster="east", hold=True)


def _client(fake: Any) -> GrpcDataPlaneClient:
    return GrpcDataPlaneClient([DataPlaneConfig(name="east", endpoint=f"127.0.0.1:{fake.port}")])


async def test_requests_waiting_while_a_call_is_in_flight_go_in_one_call(fake_dataplane: Any) -> None:
    fake_dataplane.hold = asyncio.Event()
    client = _client(fake_dataplane)
    try:
        first = asyncio.create_task(client.create_execution("east", _request("a")))
        await fake_dataplane.create_entered.wait()  # the first call is in flight, alone
        rest = [asyncio.create_task(client.create_execution("east", _request(n))) for n in "bcde"]
        await asyncio.sleep(0.05)
        fake_dataplane.hold.set()
        answers = await asyncio.gather(first, *rest)
        assert fake_dataplane.batch_sizes == [1, 4]
        assert [a.shard_key for a in answers] == ["shard-0"] * 5
        assert sorted(r.id.name for r in fake_dataplane.created) == list("abcde")

        await asyncio.gather(*(client.start_execution("east", _id(n)) for n in "abcde"))
        assert sorted(r.id.name for r in fake_dataplane.started) == list("abcde")
        assert sum(fake_dataplane.batch_sizes) == 10
    finally:
        await client.close()


async def test_each_request_of_a_batch_gets_its_own_answer(fake_dataplane: Any) -> None:
    fake_dataplane.unavailable_for = {"b"}
    fake_dataplane.hold = asyncio.Event()
    client = _client(fake_dataplane)
    try:
        first = asyncio.create_task(client.create_execution("east", _request("a")))
        await fake_dataplane.create_entered.wait()
        rest = [asyncio.create_task(client.create_execution("east", _request(n))) for n in "bc"]
        await asyncio.sleep(0.05)
        fake_dataplane.hold.set()
        outcomes = await asyncio.gather(first, *rest, return_exceptions=True)
        assert fake_dataplane.batch_sizes == [1, 2]
        assert isinstance(outcomes[0], dataplane_pb2.CreateExecutionResponse)
        assert isinstance(outcomes[1], DataPlaneUnavailable) and "UNAVAILABLE" in str(outcomes[1])
        assert isinstance(outcomes[2], dataplane_pb2.CreateExecutionResponse)

        fake_dataplane.unavailable_for, fake_dataplane.refuse = set(), grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(DataPlaneRefused) as refused:
            await client.create_execution("east", _request("d"))
        assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert "not valid for this data plane" in str(refused.value)
    finally:
        await client.close()


async def test_a_call_that_fails_fails_every_request_in_it(fake_dataplane: Any) -> None:
    fake_dataplane.failing = True
    client = _client(fake_dataplane)
    try:
        outcomes = await asyncio.gather(
            *(client.create_execution("east", _request(n)) for n in "abc"), return_exceptions=True
        )
        assert all(isinstance(o, DataPlaneUnavailable) for o in outcomes)
        with pytest.raises(DataPlaneUnavailable):
            await client.start_execution("east", _id("a"))
    finally:
        await client.close()


async def test_a_data_plane_without_batch_rpcs_gets_one_call_per_request(fake_dataplane: Any) -> None:
    fake_dataplane.batches = False
    fake_dataplane.unavailable_for = {"b"}
    client = _client(fake_dataplane)
    try:
        outcomes = await asyncio.gather(
            *(client.create_execution("east", _request(n)) for n in "abc"), return_exceptions=True
        )
        assert isinstance(outcomes[0], dataplane_pb2.CreateExecutionResponse)
        assert isinstance(outcomes[1], DataPlaneUnavailable)
        assert isinstance(outcomes[2], dataplane_pb2.CreateExecutionResponse)
        await client.start_execution("east", _id("a"))
        assert [r.id.name for r in fake_dataplane.started] == ["a"]
        assert fake_dataplane.batch_sizes == []
    finally:
        await client.close()
