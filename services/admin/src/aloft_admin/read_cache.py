"""A small read-through cache for settings every CreateExecution reads (project state, matchable attributes).

Staleness rule: a write through this admin clears the cache once it has committed, so this admin sees its own
writes at once; a write through another replica is seen here within ``ttl`` (``admin.settingsCacheTtl``).
A read that was in flight while a write committed is not stored (``generation``): it may have seen the old value.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

SETTINGS_CACHE_SIZE = 4096


class ReadCache(Generic[K, V]):
    """Values by key for at most ``ttl`` seconds, least recently stored dropped beyond ``size``; ``ttl`` 0: off.

    Values are shared: callers must not mutate them.
    """

    def __init__(
        self, ttl: float, size: int = SETTINGS_CACHE_SIZE, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl
        self._size = size
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self.generation = 0

    def get(self, key: K) -> tuple[bool, V | None]:
        """(found, value): found is False when the key is absent or expired."""
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        expires, value = entry
        if self._clock() >= expires:
            del self._entries[key]
            return False, None
        return True, value

    def put(self, key: K, value: V, generation: int) -> None:
        """Store ``value`` read when ``generation`` was current; dropped when a write committed since."""
        if self._ttl <= 0 or generation != self.generation:
            return
        self._entries[key] = (self._clock() + self._ttl, value)
        self._entries.move_to_end(key)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def invalidate(self) -> None:
        """After a write committed: forget everything, and refuse reads that started before it."""
        self.generation += 1
        self._entries.clear()
