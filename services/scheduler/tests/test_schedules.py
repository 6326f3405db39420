"""Tick times of cron, descriptor, @every and fixed-rate schedules, and Flyte's deterministic execution names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flyteidl.admin import schedule_pb2
from flyteidl.core import identifier_pb2

from aloft_scheduler.clock import offset_clock, system_clock
from aloft_scheduler.config import SchedulerSection
from aloft_scheduler.names import execution_name, fnv1_64
from aloft_scheduler.schedules import InvalidSchedule, cadence_of

ACTIVATED = datetime(2026, 3, 1, 10, 7, 30, 250_000, tzinfo=UTC)


def cron(expression: str) -> schedule_pb2.Schedule:
    return schedule_pb2.Schedule(cron_schedule=schedule_pb2.CronSchedule(schedule=expression))


def at(hour: int, minute: int, second: int = 0, day: int = 1) -> datetime:
    return datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


def test_five_field_cron_ticks_between_two_times() -> None:
    cadence = cadence_of(cron("*/15 * * * *"), ACTIVATED)
    assert list(cadence.following(at(10, 0), at(11, 0))) == [at(10, 15), at(10, 30), at(10, 45), at(11, 0)]
    assert list(cadence.following(at(10, 15), at(10, 29, 59))) == []  # `after` itself is not a tick again


@pytest.mark.parametrize(
    ("descriptor", "first_after_activation"),
    [("@hourly", at(11, 0)), ("@daily", at(0, 0, day=2)), ("@midnight", at(0, 0, day=2)), ("@HOURLY", at(11, 0))],
)
def test_flyte_descriptors(descriptor: str, first_after_activation: datetime) -> None:
    cadence = cadence_of(cron(descriptor), ACTIVATED)
    assert next(iter(cadence.following(ACTIVATED, ACTIVATED + timedelta(days=2)))) == first_after_activation


def test_deprecated_cron_expression_field_is_read_too() -> None:
    cadence = cadence_of(schedule_pb2.Schedule(cron_expression="0 12 * * *"), ACTIVATED)
    assert list(cadence.following(at(0, 0), at(23, 0))) == [at(12, 0)]


def test_fixed_rate_counts_from_activation_to_the_second() -> None:
    rate = schedule_pb2.Schedule(rate=schedule_pb2.FixedRate(value=20, unit=schedule_pb2.MINUTE))
    cadence = cadence_of(rate, ACTIVATED)
    assert list(cadence.following(ACTIVATED, at(11, 10))) == [at(10, 27, 30), at(10, 47, 30), at(11, 7, 30)]
    # Every replica (any `after`) sees the same grid.
    assert list(cadence.following(at(10, 30), at(11, 10))) == [at(10, 47, 30), at(11, 7, 30)]


def test_every_descriptor_is_an_interval_from_activation() -> None:
    cadence = cadence_of(cron("@every 1h30m"), ACTIVATED)
    assert list(cadence.following(ACTIVATED, at(13, 8))) == [at(11, 37, 30), at(13, 7, 30)]


def test_latest_returns_the_newest_ticks_after_a_bound_oldest_first() -> None:
    cadence = cadence_of(cron("0 * * * *"), ACTIVATED)
    assert cadence.latest(at(15, 30), 3, after=ACTIVATED) == [at(13, 0), at(14, 0), at(15, 0)]
    assert cadence.latest(at(12, 0), 10, after=ACTIVATED) == [at(11, 0), at(12, 0)]  # none before activation
    assert cadence.latest(at(12, 0), 0, after=ACTIVATED) == []
    rate = cadence_of(schedule_pb2.Schedule(rate=schedule_pb2.FixedRate(value=1, unit=schedule_pb2.HOUR)), ACTIVATED)
    assert rate.latest(at(13, 0), 5, after=ACTIVATED) == [at(11, 7, 30), at(12, 7, 30)]


@pytest.mark.parametrize(
    "schedule",
    [
        cron("* * * *"),
        cron("61 * * * *"),
        cron("@reboot"),
        cron("@every 0s"),
        cron("@every soon"),
        cron("0 0 * * * *"),  # AWS's six fields: Flyte's native scheduler does not take them either
        schedule_pb2.Schedule(rate=schedule_pb2.FixedRate(value=0, unit=schedule_pb2.MINUTE)),
        schedule_pb2.Schedule(),
    ],
)
def test_invalid_schedules_are_refused(schedule: schedule_pb2.Schedule) -> None:
    with pytest.raises(InvalidSchedule):
        cadence_of(schedule, ACTIVATED)


def test_fnv1_64_matches_the_reference_vectors() -> None:
    # FNV-1 (multiply, then xor) 64-bit test vectors from the FNV reference (Go's hash/fnv.New64).
    assert fnv1_64(b"") == 0xCBF29CE484222325
    assert fnv1_64(b"a") == 0xAF63BD4C8601B7BE
    assert fnv1_64(b"foobar") == 0x340D8765A4DDA9C2


def test_execution_names_are_deterministic_per_launch_plan_version_and_tick() -> None:
    lp = identifier_pb2.Identifier(project="p", domain="d", name="lp", version="v1")
    tick = at(11, 0)
    name = execution_name(lp, tick)
    assert name == execution_name(lp, tick.astimezone(UTC)) and len(name) == 20 and name.startswith("f")
    assert name.endswith("000")  # Flyte keeps 19 hex digits of a UUID whose last 8 bytes are zero
    assert name != execution_name(lp, tick + timedelta(minutes=1))
    assert name != execution_name(identifier_pb2.Identifier(project="p", domain="d", name="lp", version="v2"), tick)
    key = b"p:d:lp:v1:" + str(int(tick.timestamp())).encode()
    assert name == "f" + fnv1_64(key).to_bytes(8, "little").hex()[:16] + "000"


def test_clock_offset_shifts_the_schedulers_now_and_zero_keeps_the_system_clock() -> None:
    assert offset_clock(SchedulerSection().clockOffset) is system_clock
    shifted = offset_clock(SchedulerSection.model_validate({"clockOffset": "50s"}).clockOffset)
    before = system_clock()
    now = shifted()
    assert before + timedelta(seconds=50) <= now <= system_clock() + timedelta(seconds=50)
