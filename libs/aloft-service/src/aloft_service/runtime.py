"""Run a service: one asyncio gRPC server (health + reflection + interceptors) and one ASGI HTTP server.

Every service gets ``/metrics`` (Prometheus) and ``/healthcheck`` on its HTTP port. Shutdown is graceful on
SIGINT/SIGTERM: health flips to NOT_SERVING, in-flight RPCs get a grace period, then on_stop hooks run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import uvicorn
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aloft_config import Section
from aloft_service.interceptors import ServerInterceptor

log = logging.getLogger(__name__)

GrpcRegistration = Callable[[grpc.aio.Server], None]
Hook = Callable[[], Awaitable[None]]


class BindError(OSError):
    """A listener could not bind its address (port taken, bad host); the message names the service and address."""


class ListenConfig(Section):
    """Where a service listens. ``0`` as a port asks the OS for a free one (tests)."""

    host: str = "127.0.0.1"
    grpcPort: int = 0
    httpPort: int = 0


async def _metrics(_: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def base_routes() -> list[Route]:
    async def healthcheck(_: Request) -> Response:
        return JSONResponse({"status": "SERVING"})

    return [Route("/metrics", _metrics), Route("/healthcheck", healthcheck)]


@dataclass
class Service:
    """A service description the runner can start: its gRPC servicers and HTTP routes."""

    name: str
    service_names: Sequence[str]
    registrations: Sequence[GrpcRegistration]
    http_app: Starlette | None = None
    on_start: list[Hook] = field(default_factory=list)
    on_stop: list[Hook] = field(default_factory=list)
    # Run inside the error-mapping/metrics interceptor, in order (e.g. authentication).
    interceptors: Sequence[grpc.aio.ServerInterceptor] = ()
    # TLS (and client certificates) on the gRPC port; None serves plaintext (auth.mutualTls off).
    grpc_credentials: grpc.ServerCredentials | None = None
    # (certificate file, key file): HTTPS on the HTTP port; None serves plain HTTP.
    http_tls: tuple[str, str] | None = None


@dataclass
class RunningService:
    grpc_port: int
    http_port: int
    server: grpc.aio.Server
    http_server: uvicorn.Server
    health: health.aio.HealthServicer  # type: ignore[name-defined]
    service: Service
    _http_task: asyncio.Task[None]

    async def stop(self, grace: float = 5.0) -> None:
        for name in [*self.service.service_names, ""]:
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        for hook in reversed(self.service.on_stop):
            try:
                await hook()
            except Exception:  # keep shutting the rest down
                log.exception("stop hook failed")
        await self.server.stop(grace)
        self.http_server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._http_task


class _EmbeddedHttpServer(uvicorn.Server):
    """uvicorn inside a service: the service owns SIGINT/SIGTERM, so uvicorn must not capture or re-raise them."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _new_server(interceptors: Sequence[grpc.aio.ServerInterceptor] = ()) -> grpc.aio.Server:
    return grpc.aio.server(
        interceptors=[ServerInterceptor(), *interceptors],
        options=[
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
            ("grpc.so_reuseport", 0),
        ],
    )


async def start_http(
    app: Starlette | None, host: str, port: int, name: str, tls: tuple[str, str] | None = None
) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    """Serve ``app`` (plus /metrics and /healthcheck) on ``host:port``; returns once it accepts connections.

    ``tls`` = (certificate file, key file) serves HTTPS instead (the webhook)."""
    app = app or Starlette()
    for route in base_routes():
        app.router.routes.insert(0, route)
    ssl = {"ssl_certfile": tls[0], "ssl_keyfile": tls[1]} if tls else {}
    http_server = _EmbeddedHttpServer(
        uvicorn.Config(app, host=host, port=port, log_config=None, lifespan="off", **ssl)  # type: ignore[arg-type]
    )
    # Bind here rather than in uvicorn, which turns a bind failure into SystemExit inside its task.
    try:
        http_socket = socket.create_server((host, port))
    except OSError as exc:
        raise BindError(f"{name}: cannot bind HTTP port {host}:{port}: {exc}") from exc
    http_port = int(http_socket.getsockname()[1])
    http_task = asyncio.create_task(http_server.serve(sockets=[http_socket]))
    while not http_server.started:
        if http_task.done():
            http_task.result()
            raise OSError(f"{name}: HTTP server on {host}:{http_port} did not start")
        await asyncio.sleep(0.01)
    return http_server, http_task, http_port


async def wait_for_stop_signal() -> None:
    """Block until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def serve_http_forever(
    app: Starlette, host: str, port: int, name: str, tls: tuple[str, str] | None = None
) -> None:
    """An HTTP-only service (webhook, console): serve until SIGINT/SIGTERM, then let in-flight requests finish."""
    http_server, http_task, http_port = await start_http(app, host, port, name, tls)
    log.info("%s serving %s on %s:%d", name, "HTTPS" if tls else "HTTP", host, http_port)
    await wait_for_stop_signal()
    log.info("%s shutting down", name)
    http_server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await http_task


async def start_service(service: Service, listen: ListenConfig) -> RunningService:
    """Start gRPC and HTTP listeners; returns once both accept connections."""
    server = _new_server(service.interceptors)
    for register in service.registrations:
        register(server)
    health_servicer = health.aio.HealthServicer()  # type: ignore[attr-defined]
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [*service.service_names, health.SERVICE_NAME, reflection.SERVICE_NAME]
    reflection.enable_server_reflection(names, server)
    try:
        address = f"{listen.host}:{listen.grpcPort}"
        if service.grpc_credentials is not None:
            grpc_port = server.add_secure_port(address, service.grpc_credentials)
        else:
            grpc_port = server.add_insecure_port(address)
    except RuntimeError as exc:  # grpc reports a failed bind (port taken, bad host) this way
        raise BindError(f"{service.name}: cannot bind gRPC port {listen.host}:{listen.grpcPort}: {exc}") from exc

    log.info(
        "%s: gRPC bound to %s:%d; running %d start hooks", service.name, listen.host, grpc_port, len(service.on_start)
    )
    for hook in service.on_start:
        await hook()
    await server.start()
    log.info("%s: gRPC started; starting HTTP on %s:%d", service.name, listen.host, listen.httpPort)

    try:
        http_server, http_task, http_port = await start_http(
            service.http_app, listen.host, listen.httpPort, service.name, service.http_tls
        )
    except OSError:
        await server.stop(None)
        raise

    for name in [*service.service_names, ""]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    scheme = "HTTPS" if service.http_tls else "HTTP"
    log.info(
        "%s serving gRPC on %s:%d, %s on %s:%d", service.name, listen.host, grpc_port, scheme, listen.host, http_port
    )
    return RunningService(grpc_port, http_port, server, http_server, health_servicer, service, http_task)


async def serve_forever(service: Service, listen: ListenConfig) -> None:
    """Run until SIGINT/SIGTERM, then stop gracefully."""
    running = await start_service(service, listen)
    await wait_for_stop_signal()
    log.info("%s shutting down", service.name)
    await running.stop()


class StackConfig(Section):
    """Where embedded state lives: SQLite files and the local blob store default to paths under ``dataDir``."""

    dataDir: str = ".aloft"

    def data_path(self) -> Path:
        return Path(self.dataDir).expanduser().resolve()
