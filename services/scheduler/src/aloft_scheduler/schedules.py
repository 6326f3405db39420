"""When a launch plan's schedule ticks: five-field cron, Flyte's ``@hourly``-style descriptors, ``@every`` and fixed
rates, all in UTC (Flyte's native scheduler runs with ``useUTCTz``).

Interval schedules (fixed rates, ``@every``) count from the launch plan's activation time, so every scheduler
replica computes the same tick times without talking to the others.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from croniter import croniter
from flyteidl.admin import schedule_pb2

# robfig/cron's descriptors, as Flyte accepts them (``@reboot`` is not a schedule).
DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_UNIT_SECONDS = {schedule_pb2.MINUTE: 60, schedule_pb2.HOUR: 3600, schedule_pb2.DAY: 86400}
_GO_DURATION = re.compile(r"(\d+)(h|m|s)")


class InvalidSchedule(ValueError):
    pass


@dataclass(frozen=True)
class Cadence:
    """The tick times of one schedule: either a cron expression or a fixed interval from an anchor."""

    cron: str | None = None
    interval: timedelta | None = None
    anchor: datetime | None = None

    def following(self, after: datetime, until: datetime) -> Iterator[datetime]:
        """Ticks t with ``after < t <= until``, oldest first."""
        if self.interval is not None and self.anchor is not None:
            k = max(1, (after - self.anchor) // self.interval + 1)
            while (tick := self.anchor + k * self.interval) <= until:
                if tick > after:
                    yield tick
                k += 1
            return
        assert self.cron is not None
        it = croniter(self.cron, after)
        while (tick := it.get_next(datetime)) <= until:
            yield tick

    def latest(self, until: datetime, count: int, after: datetime) -> list[datetime]:
        """At most ``count`` newest ticks t with ``after < t <= until``, oldest first."""
        if count <= 0:
            return []
        ticks: list[datetime] = []
        if self.interval is not None and self.anchor is not None:
            k = (until - self.anchor) // self.interval
            while k >= 1 and len(ticks) < count and (tick := self.anchor + k * self.interval) > after:
                ticks.append(tick)
                k -= 1
        else:
            assert self.cron is not None
            it = croniter(self.cron, until + timedelta(microseconds=1))
            while len(ticks) < count and (tick := it.get_prev(datetime)) > after:
                ticks.append(tick)
        return ticks[::-1]


def cadence_of(schedule: schedule_pb2.Schedule, activated_at: datetime) -> Cadence:
    """The cadence of a launch plan's schedule; ``activated_at`` anchors interval schedules."""
    anchor = activated_at.astimezone(UTC).replace(microsecond=0)
    kind = schedule.WhichOneof("ScheduleExpression")
    if kind == "rate":
        if schedule.rate.value <= 0 or schedule.rate.unit not in _UNIT_SECONDS:
            raise InvalidSchedule(f"invalid fixed rate {schedule.rate.value} unit {schedule.rate.unit}")
        return Cadence(
            interval=timedelta(seconds=schedule.rate.value * _UNIT_SECONDS[schedule.rate.unit]), anchor=anchor
        )
    if kind == "cron_schedule":
        expression = schedule.cron_schedule.schedule
    elif kind == "cron_expression":
        expression = schedule.cron_expression
    else:
        raise InvalidSchedule("launch plan schedule has neither a cron expression nor a fixed rate")
    return _cron_cadence(expression.strip(), anchor)


def _cron_cadence(expression: str, anchor: datetime) -> Cadence:
    if expression.startswith("@every"):
        interval = _go_duration(expression.removeprefix("@every").strip())
        return Cadence(interval=interval, anchor=anchor)
    cron = DESCRIPTORS.get(expression.lower(), expression)
    if len(cron.split()) != 5 or not croniter.is_valid(cron):
        raise InvalidSchedule(f"invalid cron expression {expression!r}: five fields or an @descriptor expected")
    return Cadence(cron=cron)


def _go_duration(text: str) -> timedelta:
    parts = _GO_DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise InvalidSchedule(f"invalid @every duration {text!r} (e.g. 30m, 1h30m)")
    seconds = sum(int(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)
    if seconds <= 0:
        raise InvalidSchedule(f"invalid @every duration {text!r}: must be positive")
    return timedelta(seconds=seconds)
