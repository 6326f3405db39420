"""Starting an attempt's launcher in its own session, and killing its whole process group."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Callable

from aloft_propeller.plugins.local_process.attempt import (
    LAUNCHER_SCRIPT,
    AttemptDir,
    ProcessRecord,
    group_members,
)
from aloft_propeller.plugins.local_process.limits import ProcessLimits

Spawned = tuple[subprocess.Popen[bytes], ProcessRecord | None]
_LOG_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC


def spawn(
    attempt: AttemptDir, command: list[str], env: dict[str, str], limits: ProcessLimits | None, prepare: bool = True
) -> Spawned:
    """Start the launcher (which runs ``command`` and records its exit status) and claim the attempt for it. Limits
    are set on the launcher before it is told to go, so the command starts under them. The record is None when
    another launcher holds the claim: this one then exits without running anything."""
    argv = ["/bin/sh", "-c", LAUNCHER_SCRIPT, "aloft-launcher", str(attempt.path), *command]
    if prepare:
        attempt.prepare()
    # Plain descriptors (as open(..., "ab") makes them, without its buffer's fstats: GIL hand-offs before the go),
    # the go-ahead's pipe too (stdin=PIPE wraps its end in a buffered file: an fstat, a flush).
    go_read, go_write = os.pipe()
    try:
        child = _start_launcher(attempt, argv, env, go_read)
    except BaseException:
        os.close(go_write)
        raise
    record: ProcessRecord | None = None
    try:
        if limits is not None:
            limits.apply_to(child.pid)
        started = ProcessRecord.of_group_leader(child.pid)
        if attempt.claim(started):
            record = started
            os.write(go_write, b"go\n")
    finally:
        os.close(go_write)  # without the go-ahead the launcher exits without running the command
    return child, record


def _start_launcher(attempt: AttemptDir, argv: list[str], env: dict[str, str], go_read: int) -> subprocess.Popen[bytes]:
    """Popen the launcher with the go-ahead pipe's read end as its stdin and the attempt's log as its stdout and
    stderr (one file, both streams interleaved as in a pod's log: an inode less per launch); the parent's copies of
    those descriptors are closed once it runs."""
    try:
        log_fd = os.open(attempt.stdout, _LOG_FLAGS, 0o666)
        try:
            return subprocess.Popen(
                argv,
                cwd=attempt.workdir,
                env=env,
                stdin=go_read,
                stdout=log_fd,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # survives propeller's death; killed as a group
            )
        finally:
            os.close(log_fd)
    finally:
        os.close(go_read)


async def kill_group(pgid: int, grace_seconds: float, reap: Callable[[], None]) -> None:
    """SIGTERM the group, SIGKILL whatever is left after the grace period, wait (bounded) until it is gone."""
    if not group_members(pgid):
        return
    _signal_group(pgid, signal.SIGTERM)
    if await _wait_gone(pgid, grace_seconds, reap):
        return
    _signal_group(pgid, signal.SIGKILL)
    await _wait_gone(pgid, 2.0, reap)


async def _wait_gone(pgid: int, seconds: float, reap: Callable[[], None]) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        reap()  # our own child would otherwise linger as a zombie member of the group
        if not group_members(pgid):
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.05)


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass
