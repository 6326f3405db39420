"""Start the managed propeller shards, keep them alive, stop them cleanly (flytepropeller-manager's pod loop).

Each shard is ``aloft-propeller serve`` with the manager's config plus its own ``propeller.shard`` section and ports
(given as ``ALOFT__`` overrides). A shard that exits is started again after a backoff that doubles while it keeps
failing. Shards die with the manager (Linux parent-death signal), so a manager restarted with another shard layout
never overlaps the shards of the old one: no workflow is ever evaluated by two layouts at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from aloft_auth.mtls import aio_channel
from grpc_health.v1 import health_pb2, health_pb2_grpc

from aloft_propeller.config import ShardConfig
from aloft_propeller.shardmanager import metrics
from aloft_propeller.shardmanager.config import ManagerConfig
from aloft_service.parent import parent_death_env

log = logging.getLogger(__name__)

_READY_TIMEOUT_SECONDS = 120.0


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class ShardProcess:
    index: int
    section: ShardConfig
    host: str
    grpc_port: int
    http_port: int
    process: asyncio.subprocess.Process | None = None
    state: str = "pending"  # pending | starting | running | restarting | stopped
    restarts: int = 0
    failures_in_a_row: int = 0
    started_at: float = 0.0
    channel: grpc.aio.Channel | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None and self.process.returncode is None else None

    def overrides(self) -> dict[str, str]:
        """The ``ALOFT__`` settings that make ``aloft-propeller serve`` this shard."""
        section = self.section
        return {
            "ALOFT__PROPELLER__GRPCPORT": str(self.grpc_port),
            "ALOFT__PROPELLER__HTTPPORT": str(self.http_port),
            "ALOFT__PROPELLER__SHARD__TYPE": section.type,
            "ALOFT__PROPELLER__SHARD__SHARD_COUNT": str(section.shard_count),
            "ALOFT__PROPELLER__SHARD__SHARD_INDEX": str(section.shard_index),
            "ALOFT__PROPELLER__SHARD__INCLUDE": json.dumps(section.include),
            "ALOFT__PROPELLER__SHARD__EXCLUDE": json.dumps(section.exclude),
        }

    def describe(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "state": self.state,
            "pid": self.pid,
            "restarts": self.restarts,
            "grpcPort": self.grpc_port,
            "httpPort": self.http_port,
            "shard": self.section.model_dump(by_alias=True),
        }


def plan_shards(sections: list[ShardConfig], config: ManagerConfig, host: str) -> list[ShardProcess]:
    def port(start: int, index: int) -> int:
        return start + index if start else free_port(host)

    return [
        ShardProcess(
            index=i,
            section=section,
            host=host,
            grpc_port=port(config.shard_grpc_port_start, i),
            http_port=port(config.shard_http_port_start, i),
        )
        for i, section in enumerate(sections)
    ]


class ShardSupervisor:
    def __init__(
        self,
        shards: list[ShardProcess],
        command: list[str],
        config: ManagerConfig,
        interceptors: Sequence[grpc.aio.ClientInterceptor] = (),
    ) -> None:
        self.shards = shards
        self._interceptors = interceptors  # auth.internal tokens and mTLS credentials (OutgoingCalls)
        self._command = command
        self._config = config
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        for shard in self.shards:
            shard.channel = aio_channel(shard.endpoint, self._interceptors)
            await self._spawn(shard)
        self._tasks = [asyncio.create_task(self._watch(s), name=f"shard-{s.index}-watch") for s in self.shards]

    async def stop(self) -> None:
        """SIGTERM every shard (they finish in-flight rounds), SIGKILL what is left after the grace period."""
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        running = [s.process for s in self.shards if s.process is not None and s.process.returncode is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        grace = self._config.stop_grace_period.total_seconds()
        for process in running:
            try:
                await asyncio.wait_for(process.wait(), timeout=grace)
            except TimeoutError:
                log.warning("shard pid %d did not stop within %.0fs; killing it", process.pid, grace)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        for shard in self.shards:
            shard.state = "stopped"
            if shard.channel is not None:
                await shard.channel.close()
        metrics.pods_running.set(0)

    async def _spawn(self, shard: ShardProcess) -> None:
        # The shard arms its own SIGKILL for when the manager dies (even by SIGKILL). No preexec_fn: only a spawn
        # without one is a vfork, and a plain fork runs gRPC's at-fork handlers, which can block the manager forever.
        env = {**os.environ, **shard.overrides(), **parent_death_env(signal.SIGKILL)}
        shard.process = await asyncio.create_subprocess_exec(*self._command, env=env, start_new_session=True)
        shard.state = "starting"
        shard.started_at = time.monotonic()
        metrics.pods_created.inc()
        log.info("started shard %d (pid %d) on %s: %s", shard.index, shard.process.pid, shard.endpoint, shard.section)

    async def _watch(self, shard: ShardProcess) -> None:
        """Wait for the shard to serve, then for it to exit; restart it with backoff until the manager stops."""
        while not self._stopping:
            assert shard.process is not None
            waiting = asyncio.create_task(shard.process.wait())
            if await self._ready(shard, waiting):
                shard.state = "running"
                self._count_running()
            code = await waiting
            if self._stopping:
                return
            metrics.pods_deleted.inc()
            uptime = time.monotonic() - shard.started_at
            if uptime > self._config.restart_backoff.max_delay.total_seconds():
                shard.failures_in_a_row = 0  # it had been healthy for a while: start over at the base delay
            delay = self._backoff(shard.failures_in_a_row)
            shard.failures_in_a_row += 1
            shard.restarts += 1
            shard.state = "restarting"
            self._count_running()
            log.warning("shard %d exited (code %s) after %.1fs; restarting in %.1fs", shard.index, code, uptime, delay)
            await asyncio.sleep(delay)
            await self._spawn(shard)

    def _backoff(self, failures: int) -> float:
        backoff = self._config.restart_backoff
        return float(min(backoff.base_delay.total_seconds() * 2**failures, backoff.max_delay.total_seconds()))

    async def _ready(self, shard: ShardProcess, exited: asyncio.Task[int]) -> bool:
        """Poll the shard's gRPC health until SERVING; False if it exits (or never gets there) first."""
        deadline = time.monotonic() + _READY_TIMEOUT_SECONDS
        while not exited.done() and time.monotonic() < deadline:
            if await self.serving(shard):
                return True
            await asyncio.sleep(0.1)
        return False

    async def serving(self, shard: ShardProcess) -> bool:
        if shard.channel is None:
            return False
        stub = health_pb2_grpc.HealthStub(shard.channel)
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
        except grpc.aio.AioRpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    def _count_running(self) -> None:
        metrics.pods_running.set(sum(1 for s in self.shards if s.state == "running"))
