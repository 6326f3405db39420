"""Dying with the supervisor that started us (``aloft up``, propeller's shard manager), armed by the child itself.

A supervisor must not run code in its child between fork and exec (``preexec_fn``): it holds gRPC's threads, and a
fork that is not a vfork runs gRPC's at-fork handlers, which can block forever — with the GIL held, so nothing in the
supervisor can even time out. Supervisors therefore spawn plainly (vfork + exec) and pass ``parent_death_env``; the
service's CLI calls ``die_with_parent_if_asked`` first thing, which arms Linux's parent-death signal.

This module imports only the standard library: the supervisor of ``aloft up`` imports it too.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import MutableMapping

PARENT_PID_ENV = "ALOFT_PARENT_PID"
DEATH_SIGNAL_ENV = "ALOFT_PARENT_DEATH_SIGNAL"
_PR_SET_PDEATHSIG = 1


def parent_death_env(death_signal: signal.Signals) -> dict[str, str]:
    """Environment for a child that should get ``death_signal`` when this process (the thread spawning it) dies."""
    return {PARENT_PID_ENV: str(os.getpid()), DEATH_SIGNAL_ENV: death_signal.name}


def die_with_parent_if_asked(environ: MutableMapping[str, str] = os.environ) -> None:
    """When started with ``parent_death_env``: arm the parent-death signal (Linux), or take that signal now if the
    parent is already gone. The variables are removed so this process's own children do not inherit them."""
    parent = environ.pop(PARENT_PID_ENV, None)
    name = environ.pop(DEATH_SIGNAL_ENV, signal.SIGTERM.name)
    if not parent or not sys.platform.startswith("linux"):
        return
    death_signal = signal.Signals[name]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, int(death_signal), 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_PDEATHSIG): {os.strerror(errno)}")
    if os.getppid() != int(parent):  # the parent died before the signal was armed: we were reparented
        os.kill(os.getpid(), death_signal)
