"""The embedded task executor: each attempt runs as a subprocess of propeller, in its own session.

Idempotency: the attempt directory (``attempt.py``) is the record. ``handle`` first observes it (running → RUNNING,
exit code recorded → the result, killed by us → that failure, vanished → ProcessLost) and only launches when no
launcher has claimed the attempt. Propeller claims it for the launcher it spawned with an exclusive create before
letting it run the command, so even two propellers racing on the same attempt run it once. Children live in their
own session, survive a ``kill -9`` of propeller, and are adopted by the next propeller that handles the attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from flyteidl.core import identifier_pb2
from google.protobuf import struct_pb2

from aloft_propeller.config import LocalProcessConfig, PropellerConfig
from aloft_propeller.plugins import io
from aloft_propeller.plugins.base import ErrorKind, Phase, PhaseInfo, PluginAnswer, TaskExecutionContext, TaskLog
from aloft_propeller.plugins.local_process import copilot, results
from aloft_propeller.plugins.local_process.attempt import (
    AttemptDir,
    ProcessRecord,
    Termination,
    group_rss_bytes,
    is_running,
)
from aloft_propeller.plugins.local_process.command import build_command, local_path, names_path, write_task_template
from aloft_propeller.plugins.local_process.environment import (
    ImageResolutionError,
    LaunchEnvironments,
    flyte_env,
    resolve_bin_dir,
    storage_env,
)
from aloft_propeller.plugins.local_process.limits import ProcessLimits
from aloft_propeller.plugins.local_process.log_links import attempt_log_links, linked_logs
from aloft_propeller.plugins.local_process.process import Spawned, kill_group, spawn
from aloft_propeller.plugins.local_process.spawn_pool import SpawnPool
from aloft_propeller.plugins.local_process.template import TemplateError
from aloft_propeller.plugins.local_process.throttle import ProcessTokens
from aloft_storage import BlobNotFound, BlobStore

log = logging.getLogger(__name__)

PLUGIN_ID = "local-process"
_SPAWN_THREADS = 4  # spawns overlap while each waits for its child's exec
_HOST = socket.gethostname()
TASK_TYPES = ("python-task", "container", "raw-container")
_INLINE_READ_BYTES = 256 * 1024
_CLAIM_SETTLE_LOOKS = 100
# Failures of these kinds happen before anything runs and will not go away on a retry.
_CANNOT_START = (TemplateError, ImageResolutionError, copilot.CopilotError, BlobNotFound, ValueError)

_Launch = tuple[Spawned, set[str]]  # the spawn, and the logs whose blob is the attempt's file

# Called (on the event loop) when a process this instance spawned exits: lets the controller evaluate the workflow
# at once instead of at its next poll. Only a hint: polling still notices every exit (and adopted processes).
ExitListener = Callable[[identifier_pb2.NodeExecutionIdentifier], None]


class InputsNotWritten(OSError):
    """The inputs blob a command reads could not be written before its launch (a spawn thread's failure)."""


class LocalProcessPlugin:
    def __init__(
        self,
        config: PropellerConfig,
        blobs: BlobStore,
        *,
        environ: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self._config = config
        self._settings: LocalProcessConfig = config.plugins.local_process
        self._blobs = blobs
        self._environments = LaunchEnvironments(os.environ if environ is None else environ)
        self._storage_env = storage_env(config.storage)
        self._cwd = cwd or Path.cwd()
        self.work_root = self._work_root()
        self._lock = asyncio.Lock()
        self._children: dict[str, subprocess.Popen[bytes]] = {}  # spawned by this instance: reaped on poll
        self._active: dict[str, ProcessRecord] = {}  # attempts holding a concurrency slot
        self._log_sizes: dict[str, tuple[int, ...]] = {}  # sizes of the logs not linked, at the last upload
        self._links: dict[str, tuple[float | None, tuple[TaskLog, ...]]] = {}
        self._scanned = False
        self._bin_dirs: dict[str, Path] = {}
        self._tokens = ProcessTokens(self._settings)
        self._linked_logs = linked_logs(config.plugins.logs.templates)
        self._exit_listener: ExitListener | None = None
        self._launching: dict[str, tuple[asyncio.Future[_Launch], float]] = {}  # spawns in flight, launch time
        self._spawn_pool: SpawnPool | None = None
        self._spawn_errors: dict[str, BaseException] = {}
        self._log_blobs: dict[str, set[str]] = {}  # attempt → logs whose blob is the attempt's file (hard link)
        self._made: set[str] = set()  # attempt directories this instance made (no stat per look: a GIL hand-off)
        self._links_use_start = (
            "starttime"
            in " ".join(uri for template in config.plugins.logs.templates for uri in template.templateUris).lower()
        )

    # The node's empty inputs.pb is written here, only for a command that reads it (task_node handler: other plugins
    # get it written before their first look).
    writes_inputs_blob = True

    def set_exit_listener(self, listener: ExitListener | None) -> None:
        self._exit_listener = listener

    @property
    def wakes_nodes(self) -> bool:
        """The listener hears of every exit of a process this instance spawned, by node: the engine may poll
        those attempts rarely (nodes/frontier.py)."""
        return self._exit_listener is not None

    @property
    def id(self) -> str:
        return PLUGIN_ID

    def resource_quotas(self) -> Mapping[str, int]:
        """The ResourceManager pool registered at build time (plugins.local-process.resource-quota)."""
        return self._tokens.quotas()

    @property
    def task_types(self) -> tuple[str, ...]:
        return TASK_TYPES

    def _work_root(self) -> Path:
        configured = self._settings.work_dir
        root = Path(configured).expanduser() if configured else Path("propeller") / "work"
        if not root.is_absolute():
            root = self._config.stack.data_path() / root
        return root

    def attempt_dir(self, ctx: TaskExecutionContext) -> AttemptDir:
        return AttemptDir(self.work_root / ctx.unique_id)

    def launched(self, ctx: TaskExecutionContext) -> bool:
        """Whether the attempt was launched: its spawn in flight (the directory is made there) or done."""
        return ctx.unique_id in self._launching or self.attempt_dir(ctx).exists()

    # --- handle -------------------------------------------------------------------------------------------------

    async def handle(self, ctx: TaskExecutionContext) -> PluginAnswer:
        attempt = self.attempt_dir(ctx)
        observed = await self._observe(ctx, attempt)
        if observed is not None:
            return PluginAnswer(observed)
        contended = self._lock.locked()  # a free lock is taken without yielding: nothing can change meanwhile
        async with self._lock:  # one launch decision at a time: the slot count and the claim stay consistent
            observed = await self._observe(ctx, attempt) if contended else None
            if observed is not None:
                return PluginAnswer(observed)
            if not self._has_free_slot():
                reason = f"waiting for a local-process slot ({self._settings.max_concurrency} attempts running)"
                return PluginAnswer(
                    PhaseInfo(Phase.WAITING_FOR_RESOURCES, reason=reason, occurred_at=results.timestamp())
                )
            waiting = await self._tokens.acquire(ctx)  # after the local slot: a waiting attempt holds no token
            if waiting is not None:
                return PluginAnswer(waiting)
            try:
                started_at = await self._launch(ctx, attempt)
            except _CANNOT_START as exc:
                await self._tokens.release(ctx)
                message = f"cannot start the task: {exc}"
                return PluginAnswer(
                    results.failure(Phase.PERMANENT_FAILURE, type(exc).__name__, message, ErrorKind.USER)
                )
        return PluginAnswer(self._running_info(ctx, attempt, None, started_at))

    async def _observe(self, ctx: TaskExecutionContext, attempt: AttemptDir) -> PhaseInfo | None:
        """The attempt's phase from its directory; None when nothing has been started (safe to launch)."""
        launching = self._launching.get(ctx.unique_id)
        if launching is not None:  # spawned off the event loop; its completion wakes the workflow
            return self._running_info(ctx, attempt, None, launching[1])
        spawn_error = self._spawn_errors.pop(ctx.unique_id, None)
        if spawn_error is not None:  # nothing runs (the launcher was never told to go)
            await self._tokens.release(ctx)
            if isinstance(spawn_error, InputsNotWritten):  # the store's trouble, not the task's: retried
                return results.failure(Phase.RETRYABLE_FAILURE, "InputsNotWritten", str(spawn_error), ErrorKind.SYSTEM)
            message = f"cannot start the task: {spawn_error}"
            return results.failure(Phase.PERMANENT_FAILURE, type(spawn_error).__name__, message, ErrorKind.USER)
        if ctx.unique_id not in self._made and not attempt.exists():
            return None
        self._reap(ctx.unique_id)
        termination = attempt.termination()
        if termination is not None:
            return await self._terminal(ctx, attempt, results.from_termination(termination))
        exit_status = attempt.exit_status()
        if exit_status is None:
            record = self._active.get(ctx.unique_id)  # launched here: the claim is ours and its record known
            if record is None:
                await _settle_claim(attempt)
                record = attempt.record()
            if record is not None and self._is_running(ctx.unique_id, record):
                self._active[ctx.unique_id] = record
                return await self._running(ctx, attempt, record)
            exit_status = attempt.exit_status()  # it may have ended between the two looks
        if exit_status is not None:
            exit_code, at = exit_status  # at: the exit_code file's time, the process's end
            return await self._terminal(ctx, attempt, await results.from_exit(self._blobs, ctx, attempt, exit_code, at))
        if attempt.claimed():
            message = "the task's process disappeared without recording an exit status (host restart or killed)"
            lost = results.failure(Phase.RETRYABLE_FAILURE, "ProcessLost", message, ErrorKind.SYSTEM)
            return await self._terminal(ctx, attempt, lost)
        return None

    # --- concurrency --------------------------------------------------------------------------------------------

    def _has_free_slot(self) -> bool:
        if not self._scanned:
            self._count_running_attempts()
        for unique_id, record in list(self._active.items()):
            if not self._is_running(unique_id, record):
                del self._active[unique_id]
        return len(self._active) + len(self._launching) < self._settings.max_concurrency

    def _count_running_attempts(self) -> None:
        """After a restart, attempts started by the previous propeller still hold concurrency slots."""
        self._scanned = True
        if not self.work_root.is_dir():
            return
        for path in self.work_root.iterdir():
            attempt = AttemptDir(path)
            record = attempt.record()
            if record is not None and attempt.exit_code() is None and is_running(record):
                self._active.setdefault(path.name, record)

    def _is_running(self, unique_id: str, record: ProcessRecord) -> bool:
        """Whether the attempt's launcher still runs: for one this instance spawned, waitpid says so (and reaps it
        once it ended) without reading /proc, which every look at a waiting attempt did for each running one."""
        child = self._children.get(unique_id)
        if child is None or child.pid != record.pid:
            return is_running(record)  # adopted after a restart: not our child
        if child.poll() is None:
            return True
        del self._children[unique_id]
        return False

    def _reap(self, unique_id: str) -> None:
        child = self._children.get(unique_id)
        if child is not None and child.poll() is not None:
            del self._children[unique_id]

    # --- launching ----------------------------------------------------------------------------------------------

    async def _launch(self, ctx: TaskExecutionContext, attempt: AttemptDir) -> float:
        inputs = await io.read_inputs(ctx)
        container = ctx.template.container
        raw = results.is_raw_container(ctx)
        command = build_command(ctx, inputs, attempt, raw)
        inputs_blob = None  # flytekit reads --inputs by path: written (unless there) before the process starts
        if not raw or names_path(command, Path(local_path(ctx.inputs_uri)).parent):
            wanted = io.inputs_to_write(ctx, inputs)
            if wanted is not None and ctx.blobs.writes_now:
                inputs_blob = wanted.SerializeToString(deterministic=True)  # in the spawn thread, off the loop
            elif wanted is not None:
                await io.ensure_inputs_blob(ctx, inputs)
        prepared = write_task_template(ctx, attempt, command)
        if raw:
            # Copilot's directories exist for a command that names them (nothing else can find them).
            if names_path(command, attempt.inputs_dir):
                attempt.prepare()
                await copilot.download_inputs(self._blobs, inputs, attempt.inputs_dir, container.data_config.format)
                prepared = True
            if names_path(command, attempt.outputs_dir):
                attempt.prepare()
                attempt.outputs_dir.mkdir(exist_ok=True)
                prepared = True
        bin_dir = self._bin_dir(container.image)
        if bin_dir is None and not raw:
            raise ImageResolutionError(
                f"no flytekit environment for image [{container.image}]: set $ALOFT_FLYTEKIT_VENV, create "
                ".venv-flytekit (make setup), or map the image in plugins.local-process.images"
            )
        env = self._environments.env({**self._storage_env, **flyte_env(ctx)}, bin_dir)
        limits = ProcessLimits.from_resources(ctx.resource_limits, ctx.resource_requests)
        # The spawn waits for the child's exec (milliseconds on a busy machine): in a thread, so the round goes on
        # evaluating and launching other nodes meanwhile.
        enforced = limits if self._settings.enforce_limits else None
        # Otherwise the attempt's directories are made in the spawning thread too: file system metadata writes
        # cost about a millisecond each on a busy disk.
        started_at = time.time()
        # The links (this launch's RUNNING shows them) before the job is handed over: their key's look-up releases
        # the GIL, and right after the hand-off the woken spawn thread takes it (the loop then waits its turn).
        self._log_links(ctx, attempt, started_at)
        future = self._spawner().run(self._spawn_and_link, ctx, attempt, command, env, enforced, prepared, inputs_blob)
        self._launching[ctx.unique_id] = (future, started_at)
        future.add_done_callback(lambda done: self._launched(ctx, done))
        return started_at

    def _spawn_and_link(
        self,
        ctx: TaskExecutionContext,
        attempt: AttemptDir,
        command: list[str],
        env: dict[str, str],
        limits: ProcessLimits | None,
        prepared: bool,
        inputs_blob: bytes | None = None,
    ) -> _Launch:
        """In a spawn thread: write the inputs blob the command reads when it is not there (before the launcher
        exists: a propeller killed before its claim leaves nothing running, and the relaunch writes it again), start
        the launcher, then make each linked log's blob the attempt's own log file, so the link never dangles and
        nothing is copied (live, too); a store that cannot link gets copies as before. Returns the logs linked."""
        if inputs_blob is not None:
            try:
                ctx.blobs.write_now(ctx.inputs_uri, inputs_blob, keep_existing=True)
            except (OSError, ValueError) as exc:
                raise InputsNotWritten(f"cannot write the task's inputs [{ctx.inputs_uri}]: {exc}") from exc
        spawned = spawn(attempt, command, env, limits, not prepared)
        if spawned[1] is None:
            return spawned, set()
        # One log holds both streams: a link naming stderr gets it too.
        return spawned, {name for name in self._linked_logs if self._link_log_blob(ctx, attempt.stdout, name)}

    def _link_log_blob(self, ctx: TaskExecutionContext, path: Path, name: str) -> bool:
        try:
            return self._blobs.link_file(str(path), io.join_uri(ctx.output_prefix, name))
        except (OSError, ValueError) as exc:
            log.debug("log %s of %s is copied instead of linked: %s", name, ctx.unique_id, exc)
            return False

    def _spawner(self) -> SpawnPool:
        if self._spawn_pool is None:
            self._spawn_pool = SpawnPool(_SPAWN_THREADS, "local-process-spawn")
        return self._spawn_pool

    def _launched(self, ctx: TaskExecutionContext, done: asyncio.Future[_Launch]) -> None:
        """On the event loop, once a spawn ends: follow the process, or let the next look find out what happened
        (another propeller's claim is adopted from the claim; a failed spawn is reported by the next look)."""
        unique_id = ctx.unique_id
        self._launching.pop(unique_id, None)
        if done.cancelled():
            return
        error = done.exception()
        if error is not None:
            log.warning("could not start attempt %s: %s", unique_id, error)
            self._spawn_errors[unique_id] = error
        else:
            (child, record), linked_logs = done.result()
            self._children[unique_id] = child
            self._made.add(unique_id)
            if linked_logs:
                self._log_blobs[unique_id] = linked_logs
            if record is not None:
                self._active[unique_id] = record
                self._watch_exit(ctx, child)
                return
        if self._exit_listener is not None:
            self._exit_listener(ctx.task_execution_id.node_execution_id.execution_id)

    async def _launch_settled(self, ctx: TaskExecutionContext) -> None:
        """Wait for an in-flight spawn of this attempt (abort must see the process it is to stop)."""
        launching = self._launching.get(ctx.unique_id)
        if launching is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(launching[0])
            await asyncio.sleep(0)  # let the done callback record the process

    def _watch_exit(self, ctx: TaskExecutionContext, child: subprocess.Popen[bytes]) -> None:
        """Tell the exit listener when the launcher exits (a pidfd turns readable). The launcher appends the exit
        code to the claim before it exits, so the woken round finds the result on disk."""
        listener = self._exit_listener
        if listener is None:
            return
        try:
            fd = os.pidfd_open(child.pid)
        except (AttributeError, OSError):
            return  # no pidfd support: the poll notices the exit
        loop = asyncio.get_running_loop()
        node_execution_id = ctx.task_execution_id.node_execution_id  # the node: its round visits only it
        unique_id = ctx.unique_id

        def exited() -> None:
            loop.remove_reader(fd)
            os.close(fd)
            self._reap(unique_id)
            listener(node_execution_id)

        loop.add_reader(fd, exited)

    def _bin_dir(self, image: str) -> Path | None:
        """Resolved once per image; a missing flytekit environment is looked for again (it may be created later)."""
        if image not in self._bin_dirs:
            bin_dir = resolve_bin_dir(image, self._settings.images, self._cwd)
            if bin_dir is None:
                return None
            self._bin_dirs[image] = bin_dir
        return self._bin_dirs[image]

    # --- running ------------------------------------------------------------------------------------------------

    async def _running(self, ctx: TaskExecutionContext, attempt: AttemptDir, record: ProcessRecord) -> PhaseInfo:
        termination = self._limit_exceeded(ctx, record)
        if termination is not None:
            await self._kill(ctx, attempt, record, termination)
            return await self._terminal(ctx, attempt, results.from_termination(termination))
        await self._upload_logs(ctx, attempt, only_if_changed=True)
        return self._running_info(ctx, attempt, record.pid, record.started_at)

    def _limit_exceeded(self, ctx: TaskExecutionContext, record: ProcessRecord) -> Termination | None:
        now = time.time()
        if ctx.timeout is not None and now - record.started_at > ctx.timeout.total_seconds():
            return Termination(kind="timeout", reason=f"task execution timeout [{ctx.timeout}] expired", at=now)
        memory = ProcessLimits.from_resources(ctx.resource_limits, ctx.resource_requests).memory_bytes
        if self._settings.enforce_limits and memory:
            rss = group_rss_bytes(record.pgid)
            if rss > memory:
                reason = f"memory limit exceeded: {rss} bytes resident > limit {memory} bytes"
                return Termination(kind="oom", reason=reason, at=now)
        return None

    def _running_info(
        self, ctx: TaskExecutionContext, attempt: AttemptDir, pid: int | None, started_at: float
    ) -> PhaseInfo:
        """RUNNING from the launch on (the pid is known once the spawn is done; the phase does not change)."""
        custom = struct_pb2.Struct()
        custom.update({"workDir": str(attempt.path), "host": _HOST})
        if pid is not None:
            custom.update({"pid": pid})
        return PhaseInfo(
            phase=Phase.RUNNING,
            reason="process running",
            occurred_at=results.timestamp(started_at),
            logs=self._log_links(ctx, attempt, started_at),
            custom_info=custom,
        )

    async def _terminal(self, ctx: TaskExecutionContext, attempt: AttemptDir, info: PhaseInfo) -> PhaseInfo:
        """Release the slot, ship the final logs and link them."""
        record = self._active.pop(ctx.unique_id, None) or attempt.record()
        await self._upload_logs(ctx, attempt)
        return replace(info, logs=self._log_links(ctx, attempt, record.started_at if record else None))

    # --- abort / finalize ---------------------------------------------------------------------------------------

    async def abort(self, ctx: TaskExecutionContext, reason: str) -> None:
        await self._stop(ctx, reason)
        await self._tokens.release(ctx)  # only once the process is gone: the token stands for a running process

    async def _stop(self, ctx: TaskExecutionContext, reason: str) -> None:
        await self._launch_settled(ctx)
        attempt = self.attempt_dir(ctx)
        if not attempt.exists() or attempt.exit_code() is not None:
            return
        termination = Termination(kind="abort", reason=reason or "aborted", at=time.time())
        await _settle_claim(attempt)
        record = self._active.get(ctx.unique_id) or attempt.record()
        if record is None:
            attempt.write_termination(termination)  # nothing runs yet; a later handle must not start it
            return
        await self._kill(ctx, attempt, record, termination)

    async def finalize(self, ctx: TaskExecutionContext) -> None:
        """Release the slot and the token, ship the logs; the attempt record stays so a later handle reports,
        never reruns."""
        self._active.pop(ctx.unique_id, None)
        self._links.pop(ctx.unique_id, None)
        self._reap(ctx.unique_id)
        await self._tokens.release(ctx)
        attempt = self.attempt_dir(ctx)
        if ctx.unique_id in self._made or attempt.exists():  # made here: no stat (a GIL hand-off on the loop)
            await self._upload_logs(ctx, attempt, only_if_changed=True)
        self._log_sizes.pop(ctx.unique_id, None)
        self._log_blobs.pop(ctx.unique_id, None)
        self._made.discard(ctx.unique_id)

    async def _kill(
        self, ctx: TaskExecutionContext, attempt: AttemptDir, record: ProcessRecord, termination: Termination
    ) -> None:
        attempt.write_termination(termination)  # first: a restart in the middle still knows why it ended
        grace = self._settings.kill_grace_period.total_seconds()
        await kill_group(record.pgid, grace, lambda: self._reap(ctx.unique_id))
        self._active.pop(ctx.unique_id, None)

    # --- logs ---------------------------------------------------------------------------------------------------

    async def _upload_logs(self, ctx: TaskExecutionContext, attempt: AttemptDir, only_if_changed: bool = False) -> None:
        """Ship the logs to the attempt's output prefix (an empty log only when a log link names it): a hard link
        to the attempt's file where the store can make one (once: it then follows the file), else a copy."""
        linked = self._log_blobs.get(ctx.unique_id, ())
        # A linked log's blob is the attempt's file itself: nothing to ship, no stat (a GIL hand-off on the loop).
        logs = [(path, name) for path, name in self._log_files(ctx, attempt) if name not in linked]
        sizes = tuple(_size(path) for path, _ in logs)
        if only_if_changed and self._log_sizes.get(ctx.unique_id) == sizes:
            return
        for (path, name), size in zip(logs, sizes, strict=True):
            if size < 0 or (size == 0 and name not in self._linked_logs):
                continue
            if self._link_log_blob(ctx, path, name):
                self._log_blobs.setdefault(ctx.unique_id, set()).add(name)
                continue
            # Small logs (the common case) are read inline: a thread hop costs more than the read.
            data = (
                _read_if_exists(path) if size < _INLINE_READ_BYTES else await asyncio.to_thread(_read_if_exists, path)
            )
            if data is not None:
                await self._blobs.write(io.join_uri(ctx.output_prefix, name), data)
        self._log_sizes[ctx.unique_id] = sizes

    def _log_files(self, ctx: TaskExecutionContext, attempt: AttemptDir) -> list[tuple[Path, str]]:
        """The attempt's log files and their blob names. Launched by this version (known without a stat when by this
        instance): one log, shipped as ``stderr.log`` too only when a link names that; else two files."""
        if ctx.unique_id in self._made or not attempt.stderr.exists():
            if io.STDERR_FILE in self._linked_logs:
                return [(attempt.stdout, io.STDOUT_FILE), (attempt.stdout, io.STDERR_FILE)]
            return [(attempt.stdout, io.STDOUT_FILE)]
        return [(attempt.stdout, io.STDOUT_FILE), (attempt.stderr, io.STDERR_FILE)]

    def _log_links(
        self, ctx: TaskExecutionContext, attempt: AttemptDir, started_at: float | None
    ) -> tuple[TaskLog, ...]:
        # The same for every look at one attempt (a running attempt is observed on each poll): rendered once, again
        # only when the start time moves from the launch's to the claim's and a template shows it.
        cached = self._links.get(ctx.unique_id)
        if cached is not None and (cached[0] == started_at or not self._links_use_start):
            return cached[1]
        links = attempt_log_links(self._config.plugins.logs.templates, self._blobs, ctx, attempt, started_at)
        self._links[ctx.unique_id] = (started_at, links)
        return links


async def _settle_claim(attempt: AttemptDir) -> None:
    """A launcher writes its pid right after taking the claim. A look in between (another propeller's launcher won
    the race) would see a claim without an owner and call the process lost: wait for the pid (briefly: a launcher
    killed in that instant is then reported lost as before)."""
    for _ in range(_CLAIM_SETTLE_LOOKS):
        if not attempt.claimed() or attempt.claimed_pid() is not None:
            return
        await asyncio.sleep(0.01)


def _read_if_exists(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1
