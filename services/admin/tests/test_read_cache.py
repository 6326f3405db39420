"""ReadCache: values expire after the TTL, and a write's invalidation also refuses reads that were in flight."""

from __future__ import annotations

from aloft_admin.read_cache import ReadCache


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_value_is_served_until_its_ttl_ends() -> None:
    clock = FakeClock()
    cache: ReadCache[str, int] = ReadCache(ttl=2.0, clock=clock)
    cache.put("p", 1, cache.generation)
    assert cache.get("p") == (True, 1)
    clock.now += 1.9
    assert cache.get("p") == (True, 1)
    clock.now += 0.2
    assert cache.get("p") == (False, None)


def test_invalidate_forgets_values_and_refuses_reads_started_before_it() -> None:
    cache: ReadCache[str, int] = ReadCache(ttl=60.0, clock=FakeClock())
    cache.put("p", 1, cache.generation)
    in_flight = cache.generation  # a read began, then a write committed and invalidated
    cache.invalidate()
    assert cache.get("p") == (False, None)
    cache.put("p", 1, in_flight)  # what it read may predate the write: not kept
    assert cache.get("p") == (False, None)
    cache.put("p", 2, cache.generation)
    assert cache.get("p") == (True, 2)


def test_ttl_zero_turns_the_cache_off_and_size_bounds_it() -> None:
    off: ReadCache[str, int] = ReadCache(ttl=0.0)
    off.put("p", 1, off.generation)
    assert off.get("p") == (False, None)
    small: ReadCache[str, int] = ReadCache(ttl=60.0, size=2)
    for key, value in (("a", 1), ("b", 2), ("c", 3)):
        small.put(key, value, small.generation)
    assert small.get("a") == (False, None)
    assert small.get("b") == (True, 2) and small.get("c") == (True, 3)
