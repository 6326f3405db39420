"""Cache and reservation counters under flytepropeller's node metric names (``flyte:propeller:all:node:...``)."""

from __future__ import annotations

from prometheus_client import Counter

_PREFIX = "flyte:propeller:all:node"
_LABELS = ("project", "domain")


def _counter(name: str, help_text: str) -> Counter:
    return Counter(f"{_PREFIX}:{name}", help_text, _LABELS)


hit = _counter("discovery_hit_count", "Task cached in Discovery")
miss = _counter("discovery_miss_count", "Task not cached in Discovery")
skip = _counter("discovery_skip_count", "Task cache lookup skipped (overwrite_cache)")
put_success = _counter("discovery_put_success_count", "Discovery Put success count")
put_failure = _counter("discovery_put_failure_count", "Discovery Put failure count")
get_failure = _counter("discovery_get_failure_count", "Discovery Get failure count")
reservation_get_success = _counter("reservation_get_success_count", "Reservation GetOrExtend success count")
reservation_get_failure = _counter("reservation_get_failure_count", "Reservation GetOrExtend failure count")
reservation_release_success = _counter("reservation_release_success_count", "Reservation Release success count")
reservation_release_failure = _counter("reservation_release_failure_count", "Reservation Release failure count")
