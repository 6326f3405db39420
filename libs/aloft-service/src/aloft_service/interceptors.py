"""gRPC interceptors: error mapping, Prometheus timing and OpenTelemetry spans, applied once for every RPC."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import grpc
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind, Status, StatusCode
from prometheus_client import Counter, Histogram

from aloft_service.errors import AloftError
from aloft_service.grpc_status import to_rpc_status

log = logging.getLogger(__name__)

RPC_LATENCY = Histogram(
    "grpc_server_handling_seconds", "Latency of gRPC calls handled by this server", ["grpc_service", "grpc_method"]
)
RPC_HANDLED = Counter("grpc_server_handled_total", "gRPC calls completed", ["grpc_service", "grpc_method", "grpc_code"])

_tracer = trace.get_tracer("aloft.grpc.server")


def _split(full_method: str) -> tuple[str, str]:
    _, service, method = full_method.split("/", 2)
    return service, method


def _call_metadata(context: grpc.aio.ServicerContext) -> dict[str, str]:
    return {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}


def _spans_recorded() -> bool:
    """Whether a span goes anywhere: the installed SDK provider has a span processor (``otel.type: otlpgrpc``, or
    one added later, as tests do). Read per call, so a processor added at any time takes effect."""
    processors = getattr(getattr(trace.get_tracer_provider(), "_active_span_processor", None), "_span_processors", ())
    return bool(processors)


def _server_span(name: str, parent: Context) -> AbstractContextManager[Span]:
    """The call's server span when spans are recorded. Otherwise none is made (ids, a Span object and its ending
    cost CPU on every call for nothing): the caller's span context, when the call carried one, is made current
    instead, so the calls this one makes still carry the caller's trace on."""
    if _spans_recorded():
        return _tracer.start_as_current_span(name, kind=SpanKind.SERVER, context=parent)
    caller = trace.get_current_span(parent)
    if caller is INVALID_SPAN:
        return nullcontext(caller)
    return trace.use_span(caller)


class MalformedRequest:
    """Stands in for a request whose bytes did not parse, so the RPC can answer INVALID_ARGUMENT (grpcio itself
    would answer INTERNAL/UNKNOWN with the parser's text)."""

    def __init__(self, message_type: str) -> None:
        self.message_type = message_type


def _tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None
    message_type = getattr(getattr(deserializer, "__self__", None), "__name__", "request")

    def parse(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception:  # noqa: BLE001 - protobuf raises DecodeError and others; all mean "bad bytes"
            return MalformedRequest(message_type)

    return parse


class ServerInterceptor(grpc.aio.ServerInterceptor):
    """Maps AloftError to its status (with details), records latency and a server span per unary RPC (when spans
    are recorded at all: ``_server_span``).

    Unparseable request bytes answer INVALID_ARGUMENT; an unexpected exception answers INTERNAL with a reference
    to the logged traceback, never the exception's own text (it may hold SQL or paths).

    The wrapping handler is built once per method (and per handler the rest of the chain returns for it, which is
    the same object call after call unless an inner interceptor answers a call with a handler of its own); only the
    trace context is read per call, from the call's metadata.
    """

    def __init__(self) -> None:
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = handler_call_details.method
        known = self._wrapped.get(method)
        if known is not None and known[0] is handler:
            return known[1]
        wrapped = _wrap_unary(handler, method)
        self._wrapped[method] = (handler, wrapped)
        return wrapped


def _wrap_unary(handler: grpc.RpcMethodHandler, full_method: str) -> grpc.RpcMethodHandler:
    service, method = _split(full_method)
    inner = handler.unary_unary
    span_name = f"{service}/{method}"
    latency = RPC_LATENCY.labels(service, method)
    handled: dict[grpc.StatusCode, Any] = {}

    def count(code: grpc.StatusCode) -> None:
        counter = handled.get(code)
        if counter is None:
            counter = handled[code] = RPC_HANDLED.labels(service, method, code.name)
        counter.inc()

    async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
        start = time.perf_counter()
        code = grpc.StatusCode.OK
        parent = propagate.extract(_call_metadata(context))
        with _server_span(span_name, parent) as span:
            try:
                if isinstance(request, MalformedRequest):
                    code = grpc.StatusCode.INVALID_ARGUMENT
                    await context.abort(code, f"the request is not a valid {request.message_type} message")
                return await inner(request, context)
            except AloftError as err:
                code = err.code
                span.set_status(Status(StatusCode.ERROR, err.message))
                await context.abort_with_status(to_rpc_status(err))
            except grpc.aio.AbortError:
                code = context.code() or grpc.StatusCode.UNKNOWN  # type: ignore[assignment]
                raise
            except Exception as exc:  # last-resort mapping, logged with its trace
                code = grpc.StatusCode.INTERNAL
                reference = uuid.uuid4().hex[:12]
                log.exception("unhandled error in %s/%s (reference %s)", service, method, reference)
                span.record_exception(exc)
                await context.abort(code, f"internal error in {method} (reference {reference} in the server log)")
            finally:
                latency.observe(time.perf_counter() - start)
                count(code)

    return grpc.unary_unary_rpc_method_handler(
        wrapped,
        request_deserializer=_tolerant(handler.request_deserializer),
        response_serializer=handler.response_serializer,
    )


class ClientTracingInterceptor(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Client span plus trace-context propagation in the call metadata."""

    async def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        method = client_call_details.method
        name = method.decode() if isinstance(method, bytes) else method
        tracer = trace.get_tracer("aloft.grpc.client")
        with tracer.start_as_current_span(name.lstrip("/"), kind=SpanKind.CLIENT):
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            metadata = list(client_call_details.metadata or []) + list(carrier.items())
            details = client_call_details._replace(metadata=metadata)
            return await continuation(details, request)
