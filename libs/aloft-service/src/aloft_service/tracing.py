"""OpenTelemetry tracing: off by default, OTLP/gRPC exporter when ``otel.type: otlpgrpc``."""

from __future__ import annotations

from typing import Literal

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from aloft_config import Section


class OtlpGrpcConfig(Section):
    endpoint: str = "http://localhost:4317"
    insecure: bool = True


class OtelConfig(Section):
    type: Literal["noop", "otlpgrpc"] = "noop"
    otlpgrpc: OtlpGrpcConfig = OtlpGrpcConfig()
    sampler_ratio: float = 1.0


def configure_tracing(config: OtelConfig, service: str, exporter: SpanExporter | None = None) -> TracerProvider:
    """Install a tracer provider. With ``noop`` nothing is exported, and the gRPC server makes no spans (it keeps a
    caller's trace context current, so it propagates); a span processor added to the provider later turns them on."""
    provider = TracerProvider(resource=Resource.create({"service.name": f"aloft-{service}"}))
    if exporter is None and config.type == "otlpgrpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=config.otlpgrpc.endpoint, insecure=config.otlpgrpc.insecure)
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider
