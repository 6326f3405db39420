"""An asyncio work queue with de-duplication and rate-limited re-queue (client-go's workqueue semantics).

- An item added while already queued is queued once; added while being processed, it is queued again when
  ``done`` is called (never processed by two workers at once).
- ``add_after`` schedules an add (``cancel_scheduled`` drops it); ``add_rate_limited`` re-adds with per-item
  exponential backoff (``base_delay * 2**failures``, capped at ``max_delay``) until ``forget``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from typing import Generic, TypeVar

T = TypeVar("T", bound=Hashable)


class WorkQueue(Generic[T]):
    def __init__(self, base_delay: float = 0.005, max_delay: float = 60.0) -> None:
        self._queue: asyncio.Queue[T] = asyncio.Queue()
        self._queued: set[T] = set()
        self._processing: set[T] = set()
        self._dirty: set[T] = set()
        self._failures: dict[T, int] = {}
        self._timers: dict[T, asyncio.TimerHandle] = {}
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._closed = False

    def __len__(self) -> int:
        return len(self._queued)

    def add(self, item: T) -> None:
        if self._closed:
            return
        if item in self._processing:
            self._dirty.add(item)
            return
        if item in self._queued:
            return
        self._queued.add(item)
        self._queue.put_nowait(item)

    def add_after(self, item: T, delay: float) -> None:
        if delay <= 0:
            self.add(item)
            return
        loop = asyncio.get_running_loop()
        existing = self._timers.get(item)
        due = loop.time() + delay
        if existing is not None and existing.when() <= due:
            return  # an earlier add is already scheduled
        if existing is not None:
            existing.cancel()
        self._timers[item] = loop.call_at(due, self._fire, item)

    def cancel_scheduled(self, item: T) -> None:
        """Drop the add scheduled for ``item``, if any (it has nothing left to do)."""
        timer = self._timers.pop(item, None)
        if timer is not None:
            timer.cancel()

    def scheduled(self, item: T) -> bool:
        return item in self._timers

    def _fire(self, item: T) -> None:
        self._timers.pop(item, None)
        self.add(item)

    def add_rate_limited(self, item: T) -> float:
        failures = self._failures.get(item, 0)
        self._failures[item] = failures + 1
        delay = min(self._base_delay * 2**failures, self._max_delay)
        self.add_after(item, delay)
        return delay

    def forget(self, item: T) -> None:
        self._failures.pop(item, None)

    def failures(self, item: T) -> int:
        return self._failures.get(item, 0)

    async def get(self) -> T:
        item = await self._queue.get()
        self._queued.discard(item)
        self._processing.add(item)
        return item

    def done(self, item: T) -> None:
        self._processing.discard(item)
        if item in self._dirty:
            self._dirty.discard(item)
            self.add(item)

    def shut_down(self) -> None:
        self._closed = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
