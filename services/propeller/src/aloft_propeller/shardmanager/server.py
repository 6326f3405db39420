"""``aloft-propeller manager``: migrate the workflow store once, start the shards ``manager.shard`` describes, serve
the cluster's DataPlaneService (routed to the owning shard) on ``propeller.grpcPort`` and the manager's /healthcheck,
/metrics (its own + every shard's, labelled) and /shards on ``propeller.httpPort``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
import urllib.request

from aloft.dataplane.v1 import dataplane_pb2_grpc
from aloft_auth.client import outgoing_interceptors
from aloft_auth.enforce import resource_server_interceptors
from aloft_auth.mtls import server_credentials
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aloft_propeller.config import PropellerConfig
from aloft_propeller.sharding.strategy import build_shard_strategy, shard_sections
from aloft_propeller.shardmanager import metrics
from aloft_propeller.shardmanager.router import ShardRouter
from aloft_propeller.shardmanager.supervisor import ShardSupervisor, plan_shards
from aloft_service.logging import configure_logging
from aloft_service.runtime import ListenConfig, Service, serve_forever

log = logging.getLogger(__name__)

_SCRAPE_TIMEOUT_SECONDS = 2.0


def shard_command(config_path: str | None) -> list[str]:
    config = ["--config", config_path] if config_path else []
    return [sys.executable, "-m", "aloft_propeller", *config, "serve"]


class ShardManager:
    def __init__(self, config: PropellerConfig, config_path: str | None) -> None:
        sections = shard_sections(config.manager.shard)
        self.config = config
        self.shards = plan_shards(sections, config.manager, config.propeller.host)
        self.supervisor = ShardSupervisor(
            self.shards, shard_command(config_path), config.manager, outgoing_interceptors(config.auth)
        )
        self.router = ShardRouter(self.shards, [build_shard_strategy(s) for s in sections])
        self.shard_metrics = metrics.ShardMetrics()
        self._scan: asyncio.Task[None] | None = None

    async def start(self) -> None:
        REGISTRY.register(self.shard_metrics)
        await self.supervisor.start()
        self._scan = asyncio.create_task(self._scan_loop(), name="manager-scan")

    async def stop(self) -> None:
        if self._scan is not None:
            self._scan.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scan
        await self.supervisor.stop()
        REGISTRY.unregister(self.shard_metrics)

    async def _scan_loop(self) -> None:
        period = self.config.manager.scan_interval.total_seconds()
        while True:
            started = time.perf_counter()
            for shard in self.shards:
                if shard.state != "running":
                    continue
                url = f"http://{shard.host}:{shard.http_port}/metrics"
                try:
                    self.shard_metrics.update(shard.index, await asyncio.to_thread(_fetch, url))
                except OSError as exc:
                    log.debug("could not collect metrics of shard %d: %s", shard.index, exc)
                except Exception:  # an unparsable exposition must not stop the scans of the other shards
                    log.exception("metrics of shard %d could not be read", shard.index)
            metrics.round_time.observe((time.perf_counter() - started) * 1000)
            await asyncio.sleep(period)

    def service(self) -> Service:
        def register(server: object) -> None:
            dataplane_pb2_grpc.add_DataPlaneServiceServicer_to_server(self.router, server)

        async def shards(_: Request) -> Response:
            return JSONResponse({"shards": [s.describe() for s in self.shards]})

        from aloft_propeller.server import SERVICE_NAME

        return Service(
            name="propeller-manager",
            service_names=[SERVICE_NAME],
            registrations=[register],  # type: ignore[list-item]
            http_app=Starlette(routes=[Route("/shards", shards)]),
            on_start=[self.start],
            on_stop=[self.stop],
            interceptors=resource_server_interceptors(self.config.auth),
            grpc_credentials=server_credentials(self.config.auth.mutualTls),
        )


def _fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=_SCRAPE_TIMEOUT_SECONDS) as reply:
        return bytes(reply.read()).decode()


def run_manager(config: PropellerConfig, config_path: str | None) -> int:
    from aloft_propeller.server import listen_config, run_migrations

    configure_logging(config.logger, "propeller-manager")
    run_migrations(config)  # once, before the shards start (they would race each other on a fresh store)
    manager = ShardManager(config, config_path)
    log.info("managing %d %s shard(s)", len(manager.shards), config.manager.shard.type)
    listen: ListenConfig = listen_config(config)
    asyncio.run(serve_forever(manager.service(), listen))
    return 0
