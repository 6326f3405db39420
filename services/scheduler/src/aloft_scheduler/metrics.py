"""Prometheus metrics under Flyte's native-scheduler names (scope ``flyte:scheduler``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

_PREFIX = "flyte:scheduler"

successful_executions = Counter(
    f"{_PREFIX}:executor:successful_execution_counter", "Ticks whose execution was created (or already existed)"
)
failed_executions = Counter(
    f"{_PREFIX}:executor:failed_execution_counter", "Unsuccessful attempts to create a tick's execution"
)
duplicate_executions = Counter(
    f"{_PREFIX}:executor:duplicate_execution_counter", "Ticks another replica or an earlier run had already fired"
)
active_schedules = Gauge(f"{_PREFIX}:active_schedules", "Schedules of ACTIVE launch plans being followed")
