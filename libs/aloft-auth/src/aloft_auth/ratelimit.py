"""Token buckets per caller (client address) for the token and login endpoints: a burst, then a steady rate."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from aloft_auth.config import RateLimit

_MAX_CALLERS = 10_000


class RateLimiter:
    def __init__(self, config: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = config.requestsPerMinute / 60.0
        self.burst = float(config.burst)
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # caller -> (tokens, updated)

    def allow(self, caller: str) -> bool:
        now = self.clock()
        tokens, updated = self._buckets.pop(caller, (self.burst, now))
        tokens = min(self.burst, tokens + (now - updated) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[caller] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > _MAX_CALLERS:
            self._buckets.popitem(last=False)
        return allowed

    def retry_after(self, caller: str) -> int:
        tokens, _ = self._buckets.get(caller, (0.0, 0.0))
        return max(1, int((1.0 - tokens) / self.rate) + 1)
