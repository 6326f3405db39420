"""The shared service runtime with a toy servicer on real ports: health, reflection, metrics, errors, tracing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import httpx
import pytest
from google.protobuf import wrappers_pb2
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from aloft_service.errors import InvalidArgument, NotFound
from aloft_service.interceptors import ClientTracingInterceptor
from aloft_service.runtime import BindError, ListenConfig, RunningService, Service, start_service
from aloft_service.tracing import OtelConfig, configure_tracing

SERVICE = "aloft.test.v1.EchoService"


async def echo(request: wrappers_pb2.StringValue, _: grpc.aio.ServicerContext) -> wrappers_pb2.StringValue:
    if request.value == "missing":
        raise NotFound("echo 'missing' not found")
    if request.value == "bad":
        violation = error_details_pb2.BadRequest.FieldViolation(field="value", description="must not be 'bad'")
        raise InvalidArgument(
            "value: must not be 'bad'", details=error_details_pb2.BadRequest(field_violations=[violation])
        )
    if request.value == "crash":
        raise RuntimeError("bug")
    return wrappers_pb2.StringValue(value=request.value.upper())


def register(server: grpc.aio.Server) -> None:
    handler = grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Echo": grpc.unary_unary_rpc_method_handler(
                echo,
                request_deserializer=wrappers_pb2.StringValue.FromString,
                response_serializer=wrappers_pb2.StringValue.SerializeToString,
            )
        },
    )
    server.add_generic_rpc_handlers((handler,))


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    """Spans of this module's calls. The global provider can be set once per process, so reuse one if present."""
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        configure_tracing(OtelConfig(), "test").add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
async def running(spans: InMemorySpanExporter) -> AsyncIterator[RunningService]:
    service = Service(name="echo", service_names=[SERVICE], registrations=[register])
    started = await start_service(service, ListenConfig(host="127.0.0.1", grpcPort=0, httpPort=0))
    yield started
    await started.stop(grace=1)


def channel(port: int, *interceptors: grpc.aio.ClientInterceptor) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(f"127.0.0.1:{port}", interceptors=list(interceptors) or None)


async def call(ch: grpc.aio.Channel, value: str) -> wrappers_pb2.StringValue:
    method = ch.unary_unary(
        f"/{SERVICE}/Echo",
        request_serializer=wrappers_pb2.StringValue.SerializeToString,
        response_deserializer=wrappers_pb2.StringValue.FromString,
    )
    return await method(wrappers_pb2.StringValue(value=value))


async def test_health_reports_serving_overall_and_per_service(running: RunningService) -> None:
    async with channel(running.grpc_port) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        for name in ("", SERVICE):
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=name))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_reflection_lists_the_services(running: RunningService) -> None:
    async with channel(running.grpc_port) as ch:
        stub = reflection_pb2_grpc.ServerReflectionStub(ch)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        async for reply in stub.ServerReflectionInfo(iter([request])):
            names = {s.name for s in reply.list_services_response.service}
            break
    assert {SERVICE, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= names


async def test_calls_work_and_metrics_count_them(running: RunningService) -> None:
    async with channel(running.grpc_port) as ch:
        assert (await call(ch, "hi")).value == "HI"
        with pytest.raises(grpc.aio.AioRpcError):
            await call(ch, "missing")
    async with httpx.AsyncClient() as client:
        metrics = await client.get(f"http://127.0.0.1:{running.http_port}/metrics")
        health = await client.get(f"http://127.0.0.1:{running.http_port}/healthcheck")
    assert metrics.status_code == 200
    assert (
        'grpc_server_handled_total{grpc_code="OK",grpc_method="Echo",grpc_service="aloft.test.v1.EchoService"}'
        in metrics.text
    )
    assert 'grpc_code="NOT_FOUND",grpc_method="Echo"' in metrics.text
    assert "grpc_server_handling_seconds_bucket" in metrics.text
    assert health.json() == {"status": "SERVING"}


async def test_aloft_errors_become_their_status_with_packed_details(running: RunningService) -> None:
    async with channel(running.grpc_port) as ch:
        with pytest.raises(grpc.aio.AioRpcError) as not_found:
            await call(ch, "missing")
        with pytest.raises(grpc.aio.AioRpcError) as invalid:
            await call(ch, "bad")
        with pytest.raises(grpc.aio.AioRpcError) as crash:
            await call(ch, "crash")
    assert not_found.value.code() == grpc.StatusCode.NOT_FOUND
    assert not_found.value.details() == "echo 'missing' not found"
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(invalid.value)
    assert status is not None and len(status.details) == 1
    detail = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(detail)
    assert detail.field_violations[0].field == "value"
    assert crash.value.code() == grpc.StatusCode.INTERNAL
    assert "bug" not in (crash.value.details() or "")  # the exception text stays in the log
    assert "reference" in (crash.value.details() or "")


async def test_server_and_client_spans_share_one_trace(running: RunningService, spans: InMemorySpanExporter) -> None:
    spans.clear()
    async with channel(running.grpc_port, ClientTracingInterceptor()) as ch:
        await call(ch, "traced")
    by_kind = {s.kind: s for s in spans.get_finished_spans() if s.name.endswith("EchoService/Echo")}
    server, client = by_kind[trace.SpanKind.SERVER], by_kind[trace.SpanKind.CLIENT]
    assert server.name == f"{SERVICE}/Echo"
    assert server.context.trace_id == client.context.trace_id
    assert server.parent is not None and server.parent.span_id == client.context.span_id


async def test_graceful_stop_flips_health_to_not_serving_before_closing(spans: InMemorySpanExporter) -> None:
    seen: list[int] = []
    service = Service(name="echo", service_names=[SERVICE], registrations=[register])
    started = await start_service(service, ListenConfig())

    async def observe_health_during_stop() -> None:
        async with channel(started.grpc_port) as ch:
            reply = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=""))
            seen.append(reply.status)

    service.on_stop.append(observe_health_during_stop)
    await started.stop(grace=1)
    assert seen == [health_pb2.HealthCheckResponse.NOT_SERVING]
    async with channel(started.grpc_port) as ch:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
    assert err.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


async def test_a_taken_port_is_a_clear_error(running: RunningService) -> None:
    service = Service(name="clash", service_names=[], registrations=[])
    with pytest.raises(BindError, match="clash: cannot bind gRPC port"):
        await start_service(service, ListenConfig(grpcPort=running.grpc_port))


async def test_a_taken_http_port_is_a_clear_error(running: RunningService) -> None:
    service = Service(name="clash", service_names=[], registrations=[])
    with pytest.raises(BindError, match="clash: cannot bind HTTP port"):
        await start_service(service, ListenConfig(httpPort=running.http_port))
