"""Embedded Dask and Ray clusters: the task types ``dask`` and ``ray`` run against a real cluster of local
processes started for the attempt, and torn down after it.

Per attempt: claim the cluster dir → start the head (Dask scheduler / Ray head) → once it accepts workers, start the
workers (sized from the task's spec, at most ``max-workers``) → once every worker joined, run the task's own command
through an embedded local-process executor with the cluster's address in its environment (``DASK_SCHEDULER_ADDRESS``
/ ``RAY_ADDRESS``, what the flytekit plugins' clients read) → when the task ends, is aborted or finalized, stop every
cluster process. A propeller restart adopts clusters of running attempts; clusters whose task already ended are
stopped on the first round after the restart. A cluster that dies or does not start within ``startup-timeout`` is a
retryable SYSTEM failure.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from flyteidl.core import identifier_pb2

from aloft_propeller.config import ClusterPluginConfig, PropellerConfig
from aloft_propeller.plugins.base import ErrorKind, ExecutionError, Phase, PhaseInfo, PluginAnswer, TaskExecutionContext
from aloft_propeller.plugins.clusters.engines import ClusterSpecError, DaskEngine, Engine, RayEngine, RayLifetime
from aloft_propeller.plugins.clusters.processes import ClusterDir
from aloft_propeller.plugins.local_process import LocalProcessPlugin
from aloft_propeller.plugins.local_process.attempt import AttemptDir, is_running
from aloft_propeller.plugins.local_process.environment import ImageResolutionError, resolve_bin_dir
from aloft_storage import BlobStore

ExitListener = Callable[[identifier_pb2.WorkflowExecutionIdentifier], None]
log = logging.getLogger(__name__)
# How often clusters kept after their task (Ray's TTL) are checked for expiry.
REAP_INTERVAL_SECONDS = 2.0


class ClusterPlugin:
    def __init__(self, config: PropellerConfig, blobs: BlobStore, engine: Engine, settings: ClusterPluginConfig):
        self._engine = engine
        self._settings = settings
        self._images = config.plugins.local_process.images
        root = Path(settings.cluster_dir).expanduser() if settings.cluster_dir else Path("propeller") / "clusters"
        self.root = (root if root.is_absolute() else config.stack.data_path() / root) / engine.task_type
        # The task itself: an embedded local-process executor of its own (own work dir, no pool of its own).
        task_settings = config.plugins.local_process.model_copy(
            update={"work_dir": str(self.root / "tasks"), "resource_quota": 0}
        )
        plugins = config.plugins.model_copy(update={"local_process": task_settings})
        task_config = config.model_copy(update={"plugins": plugins})
        self._task = LocalProcessPlugin(task_config, blobs)
        self._swept = False
        self._reaper: asyncio.Task[None] | None = None

    @property
    def id(self) -> str:
        return self._engine.task_type

    @property
    def task_types(self) -> tuple[str, ...]:
        return (self._engine.task_type,)

    def set_exit_listener(self, listener: ExitListener | None) -> None:
        """Called once as propeller starts (inside its event loop): the reaper starts then, so clusters kept by a
        previous propeller are stopped on time even before another task of this type arrives."""
        self._task.set_exit_listener(listener)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # built outside a loop (tests): the first handle starts it
        self._start_reaper()

    def resource_quotas(self) -> Mapping[str, int]:
        return {}

    def cluster(self, ctx: TaskExecutionContext) -> ClusterDir:
        return ClusterDir(self.root / ctx.unique_id)

    # ---- handle ------------------------------------------------------------------------------------------------

    async def handle(self, ctx: TaskExecutionContext) -> PluginAnswer:
        if not self._swept:
            await self._sweep()
        self._start_reaper()
        cluster = self.cluster(ctx)
        if self._task.attempt_dir(ctx).claimed():
            return await self._run_task(ctx, cluster)
        try:
            return await self._advance(ctx, cluster)
        except (ClusterSpecError, ImageResolutionError) as exc:
            await cluster.tear_down(self._grace)
            error = ExecutionError(type(exc).__name__, f"cannot start the {self.id} cluster: {exc}", ErrorKind.USER)
            info = PhaseInfo(Phase.PERMANENT_FAILURE, reason=error.message, occurred_at=_now(), error=error)
            return PluginAnswer(info)

    async def _advance(self, ctx: TaskExecutionContext, cluster: ClusterDir) -> PluginAnswer:
        """One step of starting the cluster; launches the task once the cluster is complete."""
        bin_dir = resolve_bin_dir(ctx.template.container.image, self._images)
        if bin_dir is None:
            raise ImageResolutionError(f"no environment with {self.id} for image [{ctx.template.container.image}]")
        self._engine.job_env(ctx.template)  # an unusable runtime env fails before anything starts
        if cluster.claim():
            launch = self._engine.head(ctx.template, bin_dir, cluster)
            cluster.spawn(launch.role, launch.argv, {**_env(bin_dir), **self._engine.process_env()})
            return _starting(f"starting the {self.id} cluster ({launch.role})")
        broken = cluster.dead()
        if broken:
            return await self._failed(cluster, "ClusterStartFailed", f"{', '.join(broken)} exited while starting")
        if time.time() - cluster.claimed_at() > self._settings.startup_timeout.total_seconds():
            timeout = self._settings.startup_timeout
            return await self._failed(cluster, "ClusterStartTimeout", f"the cluster did not start within {timeout}")
        head = self._engine.head_address(cluster)
        if not head:
            return _starting(f"waiting for the {self.id} cluster's head")
        launches = self._engine.workers(ctx.template, bin_dir, cluster, head)
        for launch in launches:
            if _claim_once(cluster.path / f"claim-{launch.role}"):
                cluster.spawn(launch.role, launch.argv, {**_env(bin_dir), **self._engine.process_env()})
                if self._engine.sequential_workers:
                    return _starting(f"starting {self.id} {launch.role}")
            if self._engine.sequential_workers and not self._engine.workers_ready(cluster, [launch.role]):
                return _starting(f"waiting for {self.id} {launch.role} to join {head}")
        if not self._engine.workers_ready(cluster, [launch.role for launch in launches]):
            return _starting(f"waiting for {len(launches)} {self.id} workers to join {head}")
        cluster.set_address(head)
        return await self._run_task(ctx, cluster)

    async def _run_task(self, ctx: TaskExecutionContext, cluster: ClusterDir) -> PluginAnswer:
        address = cluster.address()
        envs = (
            {**ctx.envs, **self._engine.job_env(ctx.template), **self._engine.task_env(address)}
            if address
            else ctx.envs
        )
        task_ctx = replace(ctx, envs=envs)
        answer = await self._task.handle(task_ctx)
        if answer.info.phase.is_terminal:
            await self._task_ended(ctx, cluster)
            return answer
        broken = cluster.dead() if not cluster.torn_down else []
        if broken:
            await self._task.abort(task_ctx, f"the {self.id} cluster lost {', '.join(broken)}")
            return await self._failed(cluster, "ClusterLost", f"{', '.join(broken)} exited while the task ran")
        return answer

    async def _task_ended(self, ctx: TaskExecutionContext, cluster: ClusterDir) -> None:
        """Stop the cluster, or keep it for the spec's time after the job (Ray's ttlSecondsAfterFinished)."""
        if cluster.torn_down:
            return
        keep = self._engine.keep_seconds(ctx.template)
        if keep <= 0:
            await cluster.tear_down(self._grace)
            return
        cluster.keep(time.time() + keep)
        log.info("%s cluster of %s kept for %.0fs after its job", self.id, ctx.unique_id, keep)

    async def _failed(self, cluster: ClusterDir, code: str, message: str) -> PluginAnswer:
        logs = "; ".join(f"{p.role}: {_tail(cluster.log(p.role))}" for p in cluster.processes())
        await cluster.tear_down(self._grace)
        error = ExecutionError(code, f"{self.id} cluster: {message}. {logs}", ErrorKind.SYSTEM, recoverable=True)
        info = PhaseInfo(Phase.RETRYABLE_FAILURE, reason=error.message, occurred_at=_now(), error=error)
        return PluginAnswer(info)

    # ---- abort / finalize / restart ------------------------------------------------------------------------------

    async def abort(self, ctx: TaskExecutionContext, reason: str) -> None:
        await self._task.abort(ctx, reason)
        await self.cluster(ctx).tear_down(self._grace)

    async def finalize(self, ctx: TaskExecutionContext) -> None:
        await self._task.finalize(ctx)
        cluster = self.cluster(ctx)
        if not _kept(cluster, time.time()):  # a kept cluster is stopped by the reaper when its time is up
            await cluster.tear_down(self._grace)

    async def reap(self, now: float | None = None) -> list[str]:
        """Stop the finished clusters whose keep time is over; the attempts whose cluster was stopped."""
        now = time.time() if now is None else now
        stopped = []
        for cluster in self._clusters():
            until = cluster.keep_until()
            if until is not None and until <= now and not cluster.torn_down:
                await cluster.tear_down(self._grace)
                stopped.append(cluster.name)
        return stopped

    def _start_reaper(self) -> None:
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.get_running_loop().create_task(self._reap_loop(), name=f"{self.id}-cluster-reaper")

    async def _reap_loop(self) -> None:
        while True:
            await asyncio.sleep(REAP_INTERVAL_SECONDS)
            try:
                if not self._swept:
                    await self._sweep()
                await self.reap()
            except OSError:
                log.exception("stopping expired %s clusters failed; trying again", self.id)

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None

    def _clusters(self) -> list[ClusterDir]:
        if not self.root.is_dir():
            return []
        return [ClusterDir(path) for path in self.root.iterdir() if path.name != "tasks" and path.is_dir()]

    async def _sweep(self) -> None:
        """After a restart: stop the clusters whose task already ended (the attempt's handle would never come back
        to do it once its node moved on); clusters of running or starting attempts are adopted by their handle."""
        self._swept = True
        for cluster in self._clusters():
            if not cluster.claimed or cluster.torn_down or _kept(cluster, time.time()):
                continue  # kept clusters are stopped by the reaper when their time is up
            attempt = AttemptDir(self.root / "tasks" / cluster.name)
            record = attempt.record()
            ended = attempt.exit_code() is not None or (record is not None and not is_running(record))
            age = time.time() - cluster.claimed_at()
            stale = record is None and age > self._settings.startup_timeout.total_seconds()
            if ended or stale:
                await cluster.tear_down(self._grace)

    @property
    def _grace(self) -> float:
        return self._settings.kill_grace_period.total_seconds()


def dask_plugin(config: PropellerConfig, blobs: BlobStore) -> ClusterPlugin:
    settings = config.plugins.dask
    return ClusterPlugin(config, blobs, DaskEngine(settings.max_workers), settings)


def ray_plugin(config: PropellerConfig, blobs: BlobStore) -> ClusterPlugin:
    settings = config.plugins.ray
    lifetime = RayLifetime(
        settings.shutdown_after_job_finishes,
        settings.ttl_seconds_after_finished,
        settings.max_ttl_after_finished.total_seconds(),
    )
    engine = RayEngine(settings.max_workers, settings.startup_timeout.total_seconds(), lifetime)
    return ClusterPlugin(config, blobs, engine, settings)


def _kept(cluster: ClusterDir, now: float) -> bool:
    until = cluster.keep_until()
    return until is not None and until > now


def _claim_once(path: Path) -> bool:
    try:
        path.mkdir()
    except FileExistsError:
        return False
    return True


def _env(bin_dir: Path) -> dict[str, str]:
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONUNBUFFERED": "1"}


def _now() -> datetime:
    return datetime.now(UTC)


def _starting(reason: str) -> PluginAnswer:
    return PluginAnswer(PhaseInfo(Phase.INITIALIZING, reason=reason, occurred_at=_now()))


def _tail(path: Path, max_bytes: int = 600) -> str:
    try:
        data = path.read_bytes()[-max_bytes:]
    except FileNotFoundError:
        return ""
    return data.decode(errors="replace").strip().replace("\n", " | ")
