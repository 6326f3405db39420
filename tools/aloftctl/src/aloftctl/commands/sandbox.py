"""``aloftctl sandbox``: flytectl's local cluster commands, mapped to the local stack ``aloft up`` runs."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
from flyteidl.admin import version_pb2

from aloftctl.client import CommandError
from aloftctl.session import AliasedGroup, session

STATE_DIR = Path(".aloft")
PID_FILE = STATE_DIR / "sandbox.pid"
LOG_FILE = STATE_DIR / "sandbox.log"


@click.group(cls=AliasedGroup)
def sandbox() -> None:
    """Start/stop the local stack (no Docker: `aloft up` runs every service as a process)."""


def _aloft() -> str:
    beside = Path(sys.executable).parent / "aloft"
    found = str(beside) if beside.exists() else shutil.which("aloft")
    if not found:
        raise CommandError("`aloft` is not installed (run `make setup` in the Aloft checkout)")
    return found


def _running_pid() -> int | None:
    try:
        pid = int(PID_FILE.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


@sandbox.command("start")
@click.option("--stack-config", default="config/aloft.yaml", show_default=True, help="the stack's config (aloft up)")
@click.option("--detach", is_flag=True, help="run in the background (log in .aloft/sandbox.log)")
@click.option("--wait", "wait_seconds", default=120, show_default=True, help="with --detach: seconds to wait for admin")
def sandbox_start(stack_config: str, detach: bool, wait_seconds: int) -> None:
    """Start the stack (`aloft up --config FILE`); in the foreground unless --detach."""
    command = [_aloft(), "up", "--config", stack_config]
    if not detach:
        os.execv(command[0], command)
    if _running_pid() is not None:
        raise CommandError(f"a sandbox is already running (pid {_running_pid()}); `aloftctl sandbox stop` first")
    STATE_DIR.mkdir(exist_ok=True)
    with LOG_FILE.open("ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    PID_FILE.write_text(str(process.pid))
    print(f"started `{' '.join(command)}` (pid {process.pid}, log {LOG_FILE})")
    client = session().client
    deadline = time.monotonic() + wait_seconds
    while True:
        if process.poll() is not None:
            PID_FILE.unlink(missing_ok=True)
            raise CommandError(f"the stack exited with {process.returncode}; see {LOG_FILE}")
        try:
            client.call(client.admin.GetVersion, version_pb2.GetVersionRequest(), timeout=2)
            break
        except CommandError:
            if time.monotonic() > deadline:
                raise CommandError(f"admin did not answer within {wait_seconds}s; see {LOG_FILE}") from None
            time.sleep(0.5)
    print(f"admin is up at {client.target}")


@sandbox.command("status")
def sandbox_status() -> None:
    """Whether admin answers at the configured endpoint (and the background stack's pid, if any)."""
    current = session()
    pid = _running_pid()
    if pid is not None:
        print(f"background stack: pid {pid}")
    client = current.client
    client.call(client.admin.GetVersion, version_pb2.GetVersionRequest(), timeout=5)
    print(f"admin is up at {current.config.target}")


@sandbox.command("stop")
def sandbox_stop() -> None:
    """Stop a stack started with `sandbox start --detach` (Ctrl-C stops a foreground one)."""
    pid = _running_pid()
    if pid is None:
        raise CommandError("no background sandbox is running (a foreground `aloft up` stops with Ctrl-C)")
    os.killpg(pid, signal.SIGTERM)
    for _ in range(300):
        if _running_pid() is None:
            break
        time.sleep(0.1)
    PID_FILE.unlink(missing_ok=True)
    print(f"stopped the sandbox (pid {pid})")


sandbox.aliases.update({"teardown": "stop"})
