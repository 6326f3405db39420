"""Fault-injection points for tests that run admin as a process (tests/e2e); unset, each is one environment lookup.

- ``ALOFT_ADMIN_CRASH_AT=<point>`` makes admin kill itself (SIGKILL) there.
- ``ALOFT_ADMIN_PAUSE_AT=<point>`` with ``ALOFT_ADMIN_PAUSE_DIR=<dir>`` holds the request there: admin creates
  ``<dir>/<point>.reached`` and waits until the test creates ``<dir>/<point>.release``.

Points: ``after-execution-commit`` — the execution row is committed, its hand-off not yet attempted;
``after-handoff-create`` — the data plane has acknowledged the (held) execution, admin has not yet committed the
hand-off (the window in which a TerminateExecution races it).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

log = logging.getLogger(__name__)

CRASH_AT_ENV = "ALOFT_ADMIN_CRASH_AT"
PAUSE_AT_ENV = "ALOFT_ADMIN_PAUSE_AT"
PAUSE_DIR_ENV = "ALOFT_ADMIN_PAUSE_DIR"
AFTER_EXECUTION_COMMIT = "after-execution-commit"
AFTER_HANDOFF_CREATE = "after-handoff-create"


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_AT_ENV) == name:
        log.error("fault injection: %s=%s, killing admin", CRASH_AT_ENV, name)
        os.kill(os.getpid(), signal.SIGKILL)


async def pause_point(name: str) -> None:
    if os.environ.get(PAUSE_AT_ENV) != name:
        return
    directory = Path(os.environ.get(PAUSE_DIR_ENV, "."))
    (directory / f"{name}.reached").touch()
    log.error("fault injection: %s=%s, waiting for %s", PAUSE_AT_ENV, name, directory / f"{name}.release")
    while not (directory / f"{name}.release").exists():
        await asyncio.sleep(0.05)
