"""The embedded task executor: each attempt runs as a subprocess of propeller, in its own session.

Idempotency: the attempt directory (``attempt.py``) is the record. ``handle`` first observes it (running → RUNNING,
exit code recorded → the result, killed by us → that failure, vanished → ProcessLost) and only launches when no
launcher has claimed the attempt. The launcher claims it with an atomic ``mkdir`` before running the command, so
even two propellers racing on the same attempt run it once. Children live in their own session, survive a
``kill -9`` of propeller, and are adopted by the next propeller that handles the attempt.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flyteidl.core import literals_pb2
from google.protobuf import struct_pb2

from aloft_propeller.config import LocalProcessConfig, PropellerConfig
from aloft_propeller.plugins import io
from aloft_propeller.plugins.base import (
    ErrorKind,
    ExecutionError,
    Phase,
    PhaseInfo,
    TaskExecutionContext,
    TaskLog,
    Transition,
)
from aloft_propeller.plugins.local_process import copilot
from aloft_propeller.plugins.local_process.attempt import (
    LAUNCHER_SCRIPT,
    AttemptDir,
    ProcessRecord,
    Termination,
    boot_id,
    group_members,
    group_rss_bytes,
    is_running,
    process_start_ticks,
)
from aloft_propeller.plugins.local_process.command import build_command
from aloft_propeller.plugins.local_process.environment import (
    ImageResolutionError,
    flyte_env,
    process_env,
    resolve_bin_dir,
    storage_env,
)
from aloft_propeller.plugins.local_process.limits import ProcessLimits
from aloft_propeller.plugins.local_process.template import TemplateError
from aloft_propeller.plugins.logs import render_log_links
from aloft_storage import BlobNotFound, BlobStore

PLUGIN_ID = "local-process"
TASK_TYPES = ("python-task", "container", "raw-container")
LOG_LINK_EXPIRY = timedelta(days=7)


def _now(at: float | None = None) -> datetime:
    return datetime.fromtimestamp(at if at is not None else time.time(), tz=UTC)


def _failure(phase: Phase, code: str, message: str, kind: ErrorKind, at: float | None = None) -> PhaseInfo:
    error = ExecutionError(code=code, message=message, kind=kind, recoverable=phase == Phase.RETRYABLE_FAILURE)
    return PhaseInfo(phase=phase, reason=message[:200], occurred_at=_now(at), error=error)


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
        self._environ = dict(os.environ if environ is None else environ)
        self._cwd = cwd or Path.cwd()
        self.work_root = self._work_root()
        self._lock = asyncio.Lock()
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._active: dict[str, ProcessRecord] = {}
        self._log_sizes: dict[str, tuple[int, int]] = {}
        self._scanned = False

    @property
    def id(self) -> str:
        return PLUGIN_ID

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

    # --- handle -------------------------------------------------------------------------------------------------

    async def handle(self, ctx: TaskExecutionContext) -> Transition:
        attempt = self.attempt_dir(ctx)
        observed = await self._observe(ctx, attempt)
        if observed is not None:
            return Transition(observed)
        async with self._lock:
            observed = await self._observe(ctx, attempt)
            if observed is not None:
                return Transition(observed)
            if not self._scanned:
                await asyncio.to_thread(self._count_running_attempts)
            if self._running_count() >= self._settings.max_concurrency:
                reason = f"waiting for a local-process slot ({self._settings.max_concurrency} attempts running)"
                return Transition(PhaseInfo(phase=Phase.WAITING_FOR_RESOURCES, reason=reason, occurred_at=_now()))
            try:
                record = await self._launch(ctx, attempt)
            except (TemplateError, ImageResolutionError, copilot.CopilotError, BlobNotFound) as exc:
                message = f"cannot start the task: {exc}"
                return Transition(_failure(Phase.PERMANENT_FAILURE, type(exc).__name__, message, ErrorKind.USER))
        return Transition(self._running_info(ctx, attempt, record))

    async def _observe(self, ctx: TaskExecutionContext, attempt: AttemptDir) -> PhaseInfo | None:
        """The attempt's phase from its directory; None when nothing has been started (safe to launch)."""
        if not attempt.exists():
            return None
        self._reap(ctx.unique_id)
        termination = attempt.termination()
        if termination is not None:
            return await self._terminated(ctx, attempt, termination)
        exit_code = attempt.exit_code()
        if exit_code is not None:
            return await self._finished(ctx, attempt, exit_code)
        record = self._current_record(attempt)
        if record is not None and is_running(record):
            self._active[ctx.unique_id] = record
            return await self._running(ctx, attempt, record)
        exit_code = attempt.exit_code()  # it may have ended between the two looks
        if exit_code is not None:
            return await self._finished(ctx, attempt, exit_code)
        if attempt.claimed():
            self._active.pop(ctx.unique_id, None)
            await self._upload_logs(ctx, attempt)
            message = "the task's process disappeared without recording an exit status (host restart or killed)"
            return _failure(Phase.RETRYABLE_FAILURE, "ProcessLost", message, ErrorKind.SYSTEM)
        return None

    def _current_record(self, attempt: AttemptDir) -> ProcessRecord | None:
        """The process that holds the claim; the recorded spawn only while the claim is not yet taken."""
        record = attempt.record()
        claimed_pid = attempt.claimed_pid()
        if claimed_pid is None or (record is not None and record.pid == claimed_pid):
            return record
        adopted = ProcessRecord(
            pid=claimed_pid,
            pgid=claimed_pid,
            boot_id=boot_id(),
            start_ticks=process_start_ticks(claimed_pid),
            started_at=record.started_at if record else time.time(),
        )
        attempt.write_record(adopted)
        return adopted

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

    def _reap(self, unique_id: str) -> None:
        child = self._children.get(unique_id)
        if child is not None and child.poll() is not None:
            del self._children[unique_id]

    def _running_count(self) -> int:
        for unique_id, record in list(self._active.items()):
            self._reap(unique_id)
            if not is_running(record):
                del self._active[unique_id]
        return len(self._active)

    # --- launching ----------------------------------------------------------------------------------------------

    async def _launch(self, ctx: TaskExecutionContext, attempt: AttemptDir) -> ProcessRecord:
        attempt.prepare()
        inputs = await self._read_inputs(ctx)
        container = ctx.template.container
        raw = _is_raw_container(ctx)
        command = build_command(ctx, inputs, attempt, raw)
        if raw:
            await copilot.download_inputs(self._blobs, inputs, attempt.inputs_dir, container.data_config.format)
            attempt.outputs_dir.mkdir(parents=True, exist_ok=True)
        bin_dir = resolve_bin_dir(container.image, self._settings.images, self._cwd)
        if bin_dir is None and not raw:
            raise ImageResolutionError(
                f"no flytekit environment for image [{container.image}]: set $ALOFT_FLYTEKIT_VENV, create "
                ".venv-flytekit (make setup), or map the image in plugins.local-process.images"
            )
        extra = {**storage_env(self._config.storage), **flyte_env(ctx)}
        env = process_env(self._environ, extra, bin_dir)
        return self._spawn(ctx, attempt, command, env)

    async def _read_inputs(self, ctx: TaskExecutionContext) -> literals_pb2.LiteralMap:
        try:
            return await ctx.blobs.read_proto(ctx.inputs_uri, literals_pb2.LiteralMap)
        except BlobNotFound:
            if ctx.template.interface.inputs.variables:
                raise
            return literals_pb2.LiteralMap()

    def _spawn(
        self, ctx: TaskExecutionContext, attempt: AttemptDir, command: list[str], env: dict[str, str]
    ) -> ProcessRecord:
        limits = ProcessLimits.from_resources(ctx.resource_limits, ctx.resource_requests)
        argv = ["/bin/sh", "-c", LAUNCHER_SCRIPT, "aloft-launcher", str(attempt.path), *command]
        with attempt.stdout.open("ab") as stdout, attempt.stderr.open("ab") as stderr:
            child = subprocess.Popen(
                argv,
                cwd=attempt.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,  # survives propeller's death; killed as a group
                preexec_fn=limits.preexec() if self._settings.enforce_limits else None,
            )
        record = ProcessRecord(
            pid=child.pid,
            pgid=child.pid,
            boot_id=boot_id(),
            start_ticks=process_start_ticks(child.pid),
            started_at=time.time(),
        )
        attempt.write_record(record)
        self._children[ctx.unique_id] = child
        self._active[ctx.unique_id] = record
        return record

    # --- running ------------------------------------------------------------------------------------------------

    async def _running(self, ctx: TaskExecutionContext, attempt: AttemptDir, record: ProcessRecord) -> PhaseInfo:
        if ctx.timeout is not None and time.time() - record.started_at > ctx.timeout.total_seconds():
            reason = f"task execution timeout [{ctx.timeout}] expired"
            await self._kill(ctx, attempt, record, Termination(kind="timeout", reason=reason, at=time.time()))
            return await self._terminated(ctx, attempt, attempt.termination())
        limits = ProcessLimits.from_resources(ctx.resource_limits, ctx.resource_requests)
        if self._settings.enforce_limits and limits.memory_bytes:
            rss = group_rss_bytes(record.pgid)
            if rss > limits.memory_bytes:
                reason = f"memory limit exceeded: {rss} bytes resident > limit {limits.memory_bytes} bytes"
                await self._kill(ctx, attempt, record, Termination(kind="oom", reason=reason, at=time.time()))
                return await self._terminated(ctx, attempt, attempt.termination())
        await self._upload_logs(ctx, attempt, only_if_changed=True)
        return self._running_info(ctx, attempt, record)

    def _running_info(self, ctx: TaskExecutionContext, attempt: AttemptDir, record: ProcessRecord) -> PhaseInfo:
        custom = struct_pb2.Struct()
        custom.update({"pid": record.pid, "workDir": str(attempt.path), "host": socket.gethostname()})
        return PhaseInfo(
            phase=Phase.RUNNING,
            reason="process running",
            occurred_at=_now(record.started_at),
            logs=self._log_links(ctx, attempt, record.started_at),
            custom_info=custom,
        )

    # --- results ------------------------------------------------------------------------------------------------

    async def _finished(self, ctx: TaskExecutionContext, attempt: AttemptDir, exit_code: int) -> PhaseInfo:
        self._active.pop(ctx.unique_id, None)
        await self._upload_logs(ctx, attempt)
        at = attempt.finished_at()
        logs = self._log_links(ctx, attempt, self._started_at(attempt))
        info = await self._result(ctx, attempt, exit_code, at)
        return PhaseInfo(
            phase=info.phase, reason=info.reason, occurred_at=info.occurred_at, logs=logs, error=info.error
        )

    async def _result(self, ctx: TaskExecutionContext, attempt: AttemptDir, exit_code: int, at: float) -> PhaseInfo:
        if exit_code == 0 and _is_raw_container(ctx):
            failure = await self._collect_raw_outputs(ctx, attempt, at)
            if failure is not None:
                return failure
        error = await io.read_error_document(self._blobs, ctx.output_prefix)
        if error is not None:
            phase = Phase.RETRYABLE_FAILURE if error.recoverable else Phase.PERMANENT_FAILURE
            return PhaseInfo(phase=phase, reason=error.message[:200], occurred_at=_now(at), error=error)
        if exit_code != 0:
            return _failure(Phase.RETRYABLE_FAILURE, "Error", _exit_message(exit_code, attempt), ErrorKind.USER, at)
        if ctx.template.interface.outputs.variables and not await self._blobs.exists(io.outputs_uri(ctx.output_prefix)):
            return _failure(
                Phase.RETRYABLE_FAILURE,
                "OutputsNotFound",
                "Outputs not generated by task execution",
                ErrorKind.USER,
                at,
            )
        return PhaseInfo(phase=Phase.SUCCESS, reason="process exited with code 0", occurred_at=_now(at))

    async def _collect_raw_outputs(self, ctx: TaskExecutionContext, attempt: AttemptDir, at: float) -> PhaseInfo | None:
        outputs_uri = io.outputs_uri(ctx.output_prefix)
        if await self._blobs.exists(outputs_uri):
            return None
        try:
            outputs = await copilot.upload_outputs(
                self._blobs, ctx.template.interface.outputs, attempt.outputs_dir, ctx.raw_output_prefix
            )
        except copilot.CopilotError as exc:
            return _failure(Phase.PERMANENT_FAILURE, "OutputsNotFound", str(exc), ErrorKind.USER, at)
        await self._blobs.write_proto(outputs_uri, outputs)
        return None

    async def _terminated(
        self, ctx: TaskExecutionContext, attempt: AttemptDir, termination: Termination | None
    ) -> PhaseInfo:
        self._active.pop(ctx.unique_id, None)
        await self._upload_logs(ctx, attempt)
        logs = self._log_links(ctx, attempt, self._started_at(attempt))
        if termination is None or termination.kind == "abort":
            reason = termination.reason if termination else "aborted"
            info = _failure(Phase.PERMANENT_FAILURE, "Aborted", reason, ErrorKind.SYSTEM)
        elif termination.kind == "timeout":
            info = _failure(
                Phase.RETRYABLE_FAILURE, "TimeoutExpired", termination.reason, ErrorKind.USER, termination.at
            )
        else:
            info = _failure(Phase.RETRYABLE_FAILURE, "OOMKilled", termination.reason, ErrorKind.USER, termination.at)
        return PhaseInfo(
            phase=info.phase, reason=info.reason, occurred_at=info.occurred_at, logs=logs, error=info.error
        )

    def _started_at(self, attempt: AttemptDir) -> float | None:
        record = attempt.record()
        return record.started_at if record else None

    # --- abort / finalize ---------------------------------------------------------------------------------------

    async def abort(self, ctx: TaskExecutionContext, reason: str) -> None:
        attempt = self.attempt_dir(ctx)
        if not attempt.exists():
            return
        if attempt.exit_code() is not None:
            return
        termination = Termination(kind="abort", reason=reason or "aborted", at=time.time())
        record = self._current_record(attempt)
        if record is None:
            attempt.write_termination(termination)  # nothing runs yet; a later handle must not start it
            return
        await self._kill(ctx, attempt, record, termination)

    async def finalize(self, ctx: TaskExecutionContext) -> None:
        """Release the slot and ship the logs; the attempt record stays so a later handle reports, never reruns."""
        self._active.pop(ctx.unique_id, None)
        self._reap(ctx.unique_id)
        attempt = self.attempt_dir(ctx)
        if attempt.exists():
            await self._upload_logs(ctx, attempt)

    async def _kill(
        self, ctx: TaskExecutionContext, attempt: AttemptDir, record: ProcessRecord, termination: Termination
    ) -> None:
        """SIGTERM the process group, SIGKILL whatever is left after the grace period."""
        attempt.write_termination(termination)
        if is_running(record) or group_members(record.pgid):
            _signal_group(record.pgid, signal.SIGTERM)
            deadline = time.monotonic() + self._settings.kill_grace_period.total_seconds()
            while time.monotonic() < deadline:
                self._reap(ctx.unique_id)
                if not group_members(record.pgid):
                    break
                await asyncio.sleep(0.05)
            _signal_group(record.pgid, signal.SIGKILL)
            for _ in range(40):
                self._reap(ctx.unique_id)
                if not group_members(record.pgid):
                    break
                await asyncio.sleep(0.05)
        self._active.pop(ctx.unique_id, None)

    # --- logs ---------------------------------------------------------------------------------------------------

    async def _upload_logs(self, ctx: TaskExecutionContext, attempt: AttemptDir, only_if_changed: bool = False) -> None:
        sizes = (_size(attempt.stdout), _size(attempt.stderr))
        if only_if_changed and self._log_sizes.get(ctx.unique_id) == sizes:
            return
        for path, name in ((attempt.stdout, io.STDOUT_FILE), (attempt.stderr, io.STDERR_FILE)):
            data = await asyncio.to_thread(_read_if_exists, path)
            if data is not None:
                await self._blobs.write(io.join_uri(ctx.output_prefix, name), data)
        self._log_sizes[ctx.unique_id] = sizes

    def _log_links(
        self, ctx: TaskExecutionContext, attempt: AttemptDir, started_at: float | None
    ) -> tuple[TaskLog, ...]:
        stdout_uri = io.join_uri(ctx.output_prefix, io.STDOUT_FILE)
        stderr_uri = io.join_uri(ctx.output_prefix, io.STDERR_FILE)
        execution = ctx.task_execution_id.node_execution_id.execution_id
        task_id = ctx.task_execution_id.task_id
        variables = {
            "executionName": execution.name,
            "executionProject": execution.project,
            "executionDomain": execution.domain,
            "nodeId": ctx.task_execution_id.node_execution_id.node_id,
            "taskID": task_id.name,
            "taskVersion": task_id.version,
            "taskProject": task_id.project,
            "taskDomain": task_id.domain,
            "taskRetryAttempt": str(ctx.task_execution_id.retry_attempt),
            "retryAttempt": str(ctx.task_execution_id.retry_attempt),
            "generatedName": ctx.unique_id,
            "podName": ctx.unique_id,
            "logName": ctx.unique_id,
            "logKey": _blob_key(self._blobs, stdout_uri),
            "stdoutUri": stdout_uri,
            "stderrUri": stderr_uri,
            "stdoutSignedUrl": _signed(self._blobs, stdout_uri),
            "stderrSignedUrl": _signed(self._blobs, stderr_uri),
            "localStdoutPath": str(attempt.stdout),
            "localStderrPath": str(attempt.stderr),
            "hostname": socket.gethostname(),
        }
        if started_at is not None:
            variables["podUnixStartTime"] = str(int(started_at))
            variables["podRFC3339StartTime"] = _now(started_at).isoformat()
        return render_log_links(self._config.plugins.logs.templates, variables)


def _is_raw_container(ctx: TaskExecutionContext) -> bool:
    return ctx.template.type == "raw-container" or ctx.template.container.data_config.enabled


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


def _blob_key(blobs: BlobStore, uri: str) -> str:
    key = getattr(blobs, "key", None)
    if callable(key):
        try:
            return str(key(uri))
        except ValueError:
            return uri
    return uri


def _signed(blobs: BlobStore, uri: str) -> str:
    """A GET URL for a log that works without credentials (admin serves local blobs behind signed URLs)."""
    try:
        return blobs.signed_url(uri, "GET", LOG_LINK_EXPIRY)
    except Exception:  # noqa: BLE001 - a store without signing still gets a usable plain link
        return uri


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _exit_message(exit_code: int, attempt: AttemptDir) -> str:
    if exit_code > 128:
        try:
            name = signal.Signals(exit_code - 128).name
        except ValueError:
            name = f"signal {exit_code - 128}"
        message = f"process was killed by {name} (exit code {exit_code})"
        if exit_code - 128 == signal.SIGKILL:
            message += "; this is how the kernel's OOM killer ends a process"
    else:
        message = f"process exited with code {exit_code}"
    tail = attempt.tail(attempt.stderr)
    return f"{message}\n--- last lines of stderr ---\n{tail}" if tail else message
