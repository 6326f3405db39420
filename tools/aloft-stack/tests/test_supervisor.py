"""Stop escalation and death detection of the supervisor, with plain processes standing in for services."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from aloft_stack.config import SERVICES, Endpoint, StackPlan
from aloft_stack.supervisor import Child, Supervisor

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
