"""The event loop a service runs on: uvloop by default, the standard library's with ``ALOFT_EVENT_LOOP=asyncio``.

uvloop (libuv) schedules callbacks, timers and socket I/O with less CPU per operation than asyncio's pure-Python
selector loop; grpc.aio, uvicorn, aiosqlite and asyncpg run on either. The variable is read when a service starts.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

ENV_VAR = "ALOFT_EVENT_LOOP"
LOOPS = ("uvloop", "asyncio")
T = TypeVar("T")


def loop_factory(choice: str | None = None) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The factory for ``asyncio.Runner``: uvloop's, or None (the standard loop) when ``ALOFT_EVENT_LOOP=asyncio``.

    An unknown value is an error rather than a silent default: a typo would otherwise measure the wrong loop."""
    name = (os.environ.get(ENV_VAR, "") if choice is None else choice).strip().lower() or LOOPS[0]
    if name not in LOOPS:
        raise ValueError(f"{ENV_VAR}={name!r}: expected one of {', '.join(LOOPS)}")
    if name == "asyncio":
        return None
    import uvloop  # a dependency of aloft-service; imported here so the CLI's other commands stay light

    return uvloop.new_event_loop  # type: ignore[no-any-return]


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on the configured loop."""
    factory = loop_factory()
    log.info("event loop: %s", "uvloop" if factory else "asyncio")
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
