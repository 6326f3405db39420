"""A token bucket (golang.org/x/time/rate's Limiter, as Flyte's web API plugins configure it: ``qps`` tokens a
second, at most ``burst`` saved up). Non-blocking: a caller that finds no token is told how long until one is due
and answers without calling out (a round never sleeps on another attempt's behalf)."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    def __init__(self, qps: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if qps <= 0 or burst < 1:
            raise ValueError(f"a rate limiter needs qps > 0 and burst >= 1 (got qps={qps}, burst={burst})")
        self.qps = qps
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.qps)
        self._at = now

    def try_take(self) -> float:
        """Take a token: 0.0 when taken, else the seconds until the next one is due (nothing taken)."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.qps
