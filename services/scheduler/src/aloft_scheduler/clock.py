"""The scheduler's notion of now, replaceable so tests control time instead of waiting for it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def offset_clock(offset: timedelta) -> Clock:
    """The system clock shifted by ``offset`` (the ``clockOffset`` setting; the system clock itself when 0)."""
    if not offset:
        return system_clock
    return lambda: system_clock() + offset
