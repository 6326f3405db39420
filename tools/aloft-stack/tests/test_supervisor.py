"""Stop escalation and death detection of the supervisor, with plain processes standing in for services."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from aloft_stack.config import SERVICES, Endpoint, StackPlan
from aloft_stack.supervisor import Child, Supervisor
from aloft_testing.servers import free_port

STUBBORN = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(120)"
)
POLITE = "import time; print('ready', flush=True); time.sleep(120)"


def child(tmp_path: Path, name: str, code: str) -> Child:
    log = tmp_path / f"{name}.log"
    handle = log.open("wb")
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=handle)
    assert process.stdout is not None and process.stdout.readline() == b"ready\n"
    return Child(Endpoint(SERVICES[name], "127.0.0.1", 1, 2), process, log, handle)


def supervisor(tmp_path: Path, grace: float) -> Supervisor:
    return Supervisor(StackPlan(None, tmp_path, []), grace_period=grace)


def test_stop_terms_then_kills_what_ignores_sigterm(tmp_path: Path) -> None:
    sup = supervisor(tmp_path, grace=1)
    polite, stubborn = child(tmp_path, "datacatalog", POLITE), child(tmp_path, "admin", STUBBORN)
    sup.children += [polite, stubborn]
    sup.stop()
    assert polite.process.returncode == -15  # SIGTERM
    assert stubborn.process.returncode == -9  # SIGKILL after the grace period
    assert "exited (signal SIGKILL)" in stubborn.describe_exit()


def test_watch_returns_the_child_that_died_and_stop_request_ends_it(tmp_path: Path) -> None:
    sup = supervisor(tmp_path, grace=1)
    doomed = child(tmp_path, "propeller", "import sys; print('ready', flush=True); sys.exit(3)")
    sup.children.append(doomed)
    died = sup.watch()
    assert died is doomed
    assert "propeller exited (exit code 3)" in doomed.describe_exit()
    sup.stop()

    quiet = supervisor(tmp_path, grace=1)
    quiet.request_stop()
    assert quiet.watch() is None  # a requested stop ends the watch (no child died)


# In CI `aloft up` once hung for good right after writing the scheduler's launch line: the spawn forked (a
# preexec_fn forbids vfork) and fork() ran gRPC's at-fork handler, which blocked — with the GIL held, so not even
# the start-up timeout could fire. pause() as an at-fork handler blocks the same way, every time.
SPAWN_WITH_A_BLOCKING_FORK_HANDLER = """
import ctypes, signal, sys
from pathlib import Path
from aloft_stack.config import Endpoint, ServiceSpec, StackPlan
from aloft_stack.supervisor import StackError, Supervisor

libc = ctypes.CDLL(None)
libc.__register_atfork(ctypes.cast(libc.pause, ctypes.c_void_p), None, None, None)
signal.alarm(60)  # ends this process (SIGALRM) if the spawn blocks in the handler
endpoint = Endpoint(ServiceSpec("fake", "fake", 1, 2), "127.0.0.1", int(sys.argv[2]), 0)
try:
    Supervisor(StackPlan(None, Path(sys.argv[1]), [endpoint]), startup_timeout=60).start()
except StackError as exc:
    print(exc)
"""


def test_a_spawn_never_runs_fork_handlers_so_a_blocking_one_cannot_hang_the_stack(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "aloft-fake"  # a service that starts, says so and exits: the spawn returned
    fake.write_text('#!/bin/sh\necho "fake service ran, parent death signal requested: $ALOFT_PARENT_DEATH_SIGNAL"\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        [sys.executable, "-c", SPAWN_WITH_A_BLOCKING_FORK_HANDLER, str(tmp_path), str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"the spawn blocked in a fork handler (exit {result.returncode}): {result.stderr}"
    assert "fake failed to start" in result.stdout
    assert "fake service ran, parent death signal requested: SIGTERM" in result.stdout
