"""Work that a request starts after its commit and does not wait for (the data-plane hand-off of a new execution).

Only work that is already durable may go here: its rows are committed before it starts, and what it does not finish
(a crash, a stop, a failure) the repair loop redoes (``executions_handoff.repair_loop``). ``drain()`` waits for what
is running (tests, and a graceful stop); ``stop()`` gives it a grace period, then cancels the rest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)

# Enough to keep a data plane busy; beyond it new work waits for a slot (each waiting one is a coroutine, no thread).
MAX_RUNNING = 64


class BackgroundWork:
    def __init__(self, max_running: int = MAX_RUNNING) -> None:
        self._slots = asyncio.Semaphore(max_running)
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, work: Coroutine[Any, Any, object], name: str) -> None:
        task = asyncio.get_running_loop().create_task(self._run(work, name), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, work: Coroutine[Any, Any, object], name: str) -> None:
        try:
            async with self._slots:
                await work
        except asyncio.CancelledError:
            raise
        except Exception:  # the repair loop retries what did not get through
            log.exception("%s failed, the repair loop will retry it", name)
        finally:
            work.close()  # never started (cancelled while waiting for a slot): no "never awaited" warning

    @property
    def running(self) -> int:
        return len(self._tasks)

    async def drain(self) -> None:
        """Wait until everything started so far (and whatever it started) has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self, grace: float = 5.0) -> None:
        try:
            await asyncio.wait_for(self.drain(), grace)
        except TimeoutError:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
