"""Crash points for fault-injection tests: ``ALOFT_ADMIN_CRASH_AT=<point>`` makes admin kill itself (SIGKILL) there.

Only tests set it (tests/e2e runs admin as a process with it); unset, ``crash_point`` is one environment lookup.
Points: ``after-execution-commit`` — the execution row is committed, its hand-off not yet attempted.
"""

from __future__ import annotations

import logging
import os
import signal

log = logging.getLogger(__name__)

CRASH_AT_ENV = "ALOFT_ADMIN_CRASH_AT"
AFTER_EXECUTION_COMMIT = "after-execution-commit"


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_AT_ENV) == name:
        log.error("fault injection: %s=%s, killing admin", CRASH_AT_ENV, name)
        os.kill(os.getpid(), signal.SIGKILL)
