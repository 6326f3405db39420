"""The server interceptor never lets Python or SQL text reach a client: unexpected errors answer INTERNAL with a
log reference only; undecodable request bytes answer INVALID_ARGUMENT."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.protobuf import wrappers_pb2

from aloft_service.interceptors import ServerInterceptor

SQL = "SELECT password FROM users WHERE name = 'x'"


async def _explode(request: Any, context: Any) -> wrappers_pb2.StringValue:
    raise RuntimeError(f"(psycopg.errors.SyntaxError) {SQL}")


@pytest.fixture
async def channel() -> AsyncIterator[grpc.aio.Channel]:
    server = grpc.aio.server(interceptors=[ServerInterceptor()])
    handler = grpc.unary_unary_rpc_method_handler(
        _explode,
        request_deserializer=wrappers_pb2.StringValue.FromString,
        response_serializer=wrappers_pb2.StringValue.SerializeToString,
    )
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("test.Boom", {"Explode": handler})])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as chan:
        yield chan
    await server.stop(None)


async def test_unexpected_errors_answer_internal_without_their_text(
    channel: grpc.aio.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    call = channel.unary_unary(
        "/test.Boom/Explode",
        request_serializer=wrappers_pb2.StringValue.SerializeToString,
        response_deserializer=wrappers_pb2.StringValue.FromString,
    )
    with caplog.at_level(logging.ERROR), pytest.raises(grpc.aio.AioRpcError) as caught:
        await call(wrappers_pb2.StringValue(value="x"))
    details = caught.value.details() or ""
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert "SELECT" not in details and "psycopg" not in details and "RuntimeError" not in details
    reference = details.split("reference ")[1].split(" ")[0]
    assert any(reference in r.getMessage() and r.exc_info for r in caplog.records)  # the trace is in the log


async def test_undecodable_bytes_answer_invalid_argument(channel: grpc.aio.Channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await channel.unary_unary("/test.Boom/Explode")(b"\x0a\x7f")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details() == "the request is not a valid StringValue message"
