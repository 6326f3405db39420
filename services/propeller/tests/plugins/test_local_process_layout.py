"""The attempt's on-disk protocol across restarts (issue 14's layout): the exit code as the claim's second line, one
log for both streams; and attempts launched by the previous layout, adopted."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from aloft_propeller.config import PropellerConfig
from aloft_propeller.plugins.base import ErrorKind, Phase, PhaseInfo, TaskExecutionContext
from aloft_propeller.plugins.local_process import LocalProcessPlugin
from aloft_propeller.plugins.local_process.attempt import ProcessRecord, boot_id
from aloft_storage import BlobStore
from aloft_testing.processes import eventually

MakeCtx = Callable[..., Awaitable[TaskExecutionContext]]
Drive = Callable[..., Awaitable[PhaseInfo]]

# The shim of the previous layout, as it was: its exit code in a file of its own.
PREVIOUS_LAUNCHER = r"""
d="$1"; shift
read -r go || exit 0
exec </dev/null
"$@"
code=$?
echo "$code" > "$d/exit_code"
exit "$code"
"""


def at(info: PhaseInfo) -> float:
    assert info.occurred_at is not None
    return info.occurred_at.timestamp()


async def until_terminal(plugin: LocalProcessPlugin, ctx: TaskExecutionContext) -> PhaseInfo:
    for _ in range(400):
        info = (await plugin.handle(ctx)).info
        if info.phase.is_terminal:
            return info
        await asyncio.sleep(0.05)
    raise AssertionError("the attempt did not end")


async def test_propeller_killed_between_spawn_and_exit_the_adopter_reads_the_claim(
    propeller_config: PropellerConfig, blobs: BlobStore, make_ctx: MakeCtx, raw_template: Any
) -> None:
    """The first instance dies while the command runs; the next one learns the start from the claim's line and
    the exit code from the line the shim appends, and never reruns the command."""
    runs = Path(propeller_config.stack.dataDir) / "runs.log"
    runs.parent.mkdir(parents=True, exist_ok=True)
    ctx = await make_ctx(raw_template(f"echo started >> {runs}; echo why >&2; sleep 1; exit 3"))
    first = LocalProcessPlugin(propeller_config, blobs)
    launched = (await first.handle(ctx)).info
    attempt = first.attempt_dir(ctx)
    await eventually(lambda: attempt.claimed_pid() is not None)
    record = attempt.record()
    assert record is not None
    del first  # "propeller dies": a new instance knows nothing but the work dir

    second = LocalProcessPlugin(propeller_config, blobs)
    adopted = (await second.handle(ctx)).info
    assert adopted.phase == Phase.RUNNING
    assert at(adopted) == pytest.approx(record.started_at, abs=1e-5)  # the claim's text
    assert at(launched) <= record.started_at
    info = await until_terminal(second, ctx)
    assert info.phase == Phase.RETRYABLE_FAILURE and info.error is not None
    assert "process exited with code 3" in info.error.message and "why" in info.error.message
    claim = attempt.claim_path.read_text().splitlines()
    assert len(claim) == 2 and claim[1] == "3"
    ended = attempt.claim_path.stat().st_mtime  # the end: the claim's last write
    assert at(info) == pytest.approx(ended, abs=1e-5)
    assert not (attempt.path / "exit_code").exists()

    third = LocalProcessPlugin(propeller_config, blobs)  # after the end: reports, does not rerun
    assert (await third.handle(ctx)).info.phase == Phase.RETRYABLE_FAILURE
    assert runs.read_text().count("started") == 1


async def test_a_killed_shim_leaves_a_claim_without_an_exit_and_the_attempt_is_lost(
    propeller_config: PropellerConfig, blobs: BlobStore, make_ctx: MakeCtx, raw_template: Any
) -> None:
    """The shim killed (kill -9 of the launcher alone, its command then killed too): no exit line is appended;
    both the instance that spawned it and a restarted one report the attempt lost, and nothing runs again."""
    ctx = await make_ctx(raw_template("sleep 300"))
    plugin = LocalProcessPlugin(propeller_config, blobs)
    assert (await plugin.handle(ctx)).info.phase == Phase.RUNNING
    attempt = plugin.attempt_dir(ctx)
    await eventually(lambda: attempt.claimed_pid() is not None)
    pid = attempt.claimed_pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # the shim first: it can append nothing
    await eventually(lambda: plugin.attempt_dir(ctx).record() is not None)
    os.killpg(pid, signal.SIGKILL)  # then its orphaned command (as a host crash would end both)
    info = await until_terminal(plugin, ctx)
    assert info.error is not None and info.error.code == "ProcessLost" and info.error.kind == ErrorKind.SYSTEM
    assert len(attempt.claim_path.read_text().splitlines()) == 1
    restarted = await until_terminal(LocalProcessPlugin(propeller_config, blobs), ctx)
    assert restarted.error is not None and restarted.error.code == "ProcessLost"


async def test_an_attempt_launched_by_the_previous_layout_is_adopted(
    propeller_config: PropellerConfig, blobs: BlobStore, make_ctx: MakeCtx, raw_template: Any
) -> None:
    """A propeller upgraded while an attempt of the previous layout runs (a rolling upgrade): its shim writes
    ``exit_code``, its claim has three fields (the start is its mtime), stderr has a file of its own."""
    ctx = await make_ctx(raw_template("unused"))
    plugin = LocalProcessPlugin(propeller_config, blobs)
    attempt = plugin.attempt_dir(ctx)
    attempt.path.mkdir(parents=True)
    (attempt.path / "workdir").mkdir()
    command = ["sh", "-c", "echo out; echo err >&2; sleep 0.5; exit 4"]
    go_read, go_write = os.pipe()
    with attempt.stdout.open("ab") as out, attempt.stderr.open("ab") as err:
        shim = subprocess.Popen(  # noqa: ASYNC220 - the previous version's spawn, as it was
            ["/bin/sh", "-c", PREVIOUS_LAUNCHER, "aloft-launcher", str(attempt.path), *command],
            cwd=attempt.path / "workdir",
            stdin=go_read,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    os.close(go_read)
    try:
        record = ProcessRecord.of_group_leader(shim.pid)
        attempt.claim_path.write_text(f"{record.pid} {record.start_ticks} {boot_id() or '-'}\n")
        os.write(go_write, b"go\n")
        os.close(go_write)
        started_at = attempt.claim_path.stat().st_mtime

        running = (await plugin.handle(ctx)).info
        assert running.phase == Phase.RUNNING and at(running) == pytest.approx(started_at, abs=1e-5)
        info = await until_terminal(plugin, ctx)
    finally:
        shim.wait(timeout=30)
    assert info.phase == Phase.RETRYABLE_FAILURE and info.error is not None
    assert "process exited with code 4" in info.error.message
    assert info.error.message.endswith("---\nerr")  # the tail of its own stderr
    assert at(info) == pytest.approx((attempt.path / "exit_code").stat().st_mtime, abs=1e-5)
    assert await blobs.read(f"{ctx.output_prefix}/stdout.log") == b"out\n"
    assert await blobs.read(f"{ctx.output_prefix}/stderr.log") == b"err\n"  # non-empty: shipped as before
    assert len(attempt.claim_path.read_text().splitlines()) == 1  # the old claim is never appended to


async def test_a_task_that_empties_its_cwd_leaves_the_attempts_records_alone(
    propeller_config: PropellerConfig, blobs: BlobStore, make_ctx: MakeCtx, raw_template: Any
) -> None:
    """The cwd is a directory of its own: a task that removes everything in it (or extracts code there) cannot
    touch the claim or the log, so its attempt still ends with its own exit code."""
    ctx = await make_ctx(raw_template('echo "cwd=$(pwd)"; rm -rf ./* ./.[!.]* ; exit 4'))
    plugin = LocalProcessPlugin(propeller_config, blobs)
    info = await until_terminal(plugin, ctx)
    attempt = plugin.attempt_dir(ctx)
    assert info.phase == Phase.RETRYABLE_FAILURE and info.error is not None
    assert "process exited with code 4" in info.error.message
    assert f"cwd={attempt.workdir}" in attempt.stdout.read_text()
    assert attempt.workdir != attempt.path and attempt.claim_path.exists()
