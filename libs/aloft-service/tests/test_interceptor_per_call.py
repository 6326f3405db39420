"""The server interceptor builds its wrapping handler once per method, yet reads each call's own trace context and
counts each call's own status."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.protobuf import wrappers_pb2
from opentelemetry import propagate, trace

from aloft_service import interceptors
from aloft_service.errors import InvalidArgument
from aloft_service.interceptors import RPC_HANDLED, ServerInterceptor

SERVICE, METHOD = "test.PerCall", "Echo"


async def _echo_trace(request: wrappers_pb2.StringValue, context: Any) -> wrappers_pb2.StringValue:
    if request.value == "bad":
        raise InvalidArgument("bad value")
    span = trace.get_current_span().get_span_context()
    return wrappers_pb2.StringValue(value=f"{span.trace_id:032x}")


@pytest.fixture
async def server() -> AsyncIterator[tuple[grpc.aio.Channel, ServerInterceptor]]:
    interceptor = ServerInterceptor()
    server = grpc.aio.server(interceptors=[interceptor])
    handler = grpc.unary_unary_rpc_method_handler(
        _echo_trace,
        request_deserializer=wrappers_pb2.StringValue.FromString,
        response_serializer=wrappers_pb2.StringValue.SerializeToString,
    )
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, {METHOD: handler})])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as chan:
        yield chan, interceptor
    await server.stop(None)


def _handled(code: grpc.StatusCode) -> float:
    return RPC_HANDLED.labels(SERVICE, METHOD, code.name)._value.get()


async def test_each_call_gets_its_own_trace_context_and_status(
    server: tuple[grpc.aio.Channel, ServerInterceptor],
) -> None:
    channel, interceptor = server
    echo = channel.unary_unary(
        f"/{SERVICE}/{METHOD}",
        request_serializer=wrappers_pb2.StringValue.SerializeToString,
        response_deserializer=wrappers_pb2.StringValue.FromString,
    )
    ok_before, bad_before = _handled(grpc.StatusCode.OK), _handled(grpc.StatusCode.INVALID_ARGUMENT)
    traces = [f"{n:032x}" for n in (0xA1, 0xB2)]
    for trace_id in traces:
        answer = await echo(
            wrappers_pb2.StringValue(value="x"), metadata=(("traceparent", f"00-{trace_id}-00000000000000c3-01"),)
        )
        assert answer.value == trace_id  # the server span continues this call's trace, not the first call's
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await echo(wrappers_pb2.StringValue(value="bad"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and caught.value.details() == "bad value"

    # An abort reaches the client before the server's handler has finished counting it.
    for _ in range(500):
        if _handled(grpc.StatusCode.INVALID_ARGUMENT) > bad_before:
            break
        await asyncio.sleep(0.01)
    assert _handled(grpc.StatusCode.OK) - ok_before == 2
    assert _handled(grpc.StatusCode.INVALID_ARGUMENT) - bad_before == 1
    assert list(interceptor._wrapped) == [f"/{SERVICE}/{METHOD}"]  # one wrapping handler served all three calls


def test_when_nothing_records_spans_the_callers_span_stays_current(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(interceptors, "_spans_recorded", lambda: False)
    parent = propagate.extract({"traceparent": f"00-{0xA1:032x}-00000000000000c3-01"})
    with interceptors._server_span("s/m", parent) as span:
        current = trace.get_current_span().get_span_context()
        assert (current.trace_id, current.span_id) == (0xA1, 0xC3) and not span.is_recording()
    with interceptors._server_span("s/m", propagate.extract({})) as span:
        assert span is trace.INVALID_SPAN  # an untraced call: nothing is made
