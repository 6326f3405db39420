"""A service started with ``parent_death_env`` goes when its supervisor goes, armed by the service itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from aloft_service.parent import DEATH_SIGNAL_ENV, PARENT_PID_ENV

# Stands in for a service: arms the parent-death signal as run_cli does, then says whether its own children would
# inherit the request.
SERVICE = (
    "import os, time; from aloft_service.parent import die_with_parent_if_asked; die_with_parent_if_asked(); "
    f"print('armed', {PARENT_PID_ENV!r} in os.environ, flush=True); time.sleep(120)"
)
# Stands in for a supervisor: spawns the service (plainly, no preexec_fn), reports its pid, then waits to be killed.
SUPERVISOR = (
    "import signal, subprocess, sys, time; from aloft_service.parent import parent_death_env; "
    "service = subprocess.Popen([sys.executable, '-c', sys.argv[1]], env=parent_death_env(signal.SIGTERM), "
    "stdout=sys.stdout); print(service.pid, flush=True); time.sleep(120)"
)


def gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_the_service_gets_its_signal_when_the_supervisor_is_killed() -> None:
    supervisor = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, SERVICE], stdout=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    assert supervisor.stdout is not None
    service_pid = int(supervisor.stdout.readline())
    assert supervisor.stdout.readline() == "armed False\n"  # armed, and the request is not passed on
    supervisor.kill()
    supervisor.wait()
    for _ in range(600):  # bounded: the kernel signals the orphan at once, its exit is observed within a poll or two
        if gone(service_pid):
            break
        time.sleep(0.05)
    else:
        os.kill(service_pid, signal.SIGKILL)
        raise AssertionError("the service outlived its supervisor")


def test_a_service_whose_supervisor_is_already_gone_takes_the_signal_at_once() -> None:
    not_the_parent = os.getppid()  # the service's parent is this test process, not this one's parent
    env = {**os.environ, PARENT_PID_ENV: str(not_the_parent), DEATH_SIGNAL_ENV: "SIGTERM"}
    result = subprocess.run([sys.executable, "-c", SERVICE], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == -signal.SIGTERM
    assert "armed" not in result.stdout
