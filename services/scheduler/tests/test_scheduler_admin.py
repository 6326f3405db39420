"""The scheduler against a real admin process, with a controllable clock: cron and fixed-rate launch plans fire on
schedule with the kickoff time, two replicas fire each tick once, a restart catches up as configured, and
deactivating or replacing the launch plan stops its schedule."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from croniter import croniter
from flyteidl.admin import execution_pb2, launch_plan_pb2, schedule_pb2

from aloft_scheduler.names import execution_name

EVERY_5_MIN = "*/5 * * * *"


def cron(expression: str) -> schedule_pb2.Schedule:
    return schedule_pb2.Schedule(cron_schedule=schedule_pb2.CronSchedule(schedule=expression))


def ticks_after(start: datetime, count: int, expression: str = EVERY_5_MIN) -> list[datetime]:
    it = croniter(expression, start)
    return [it.get_next(datetime) for _ in range(count)]


async def test_cron_launch_plan_fires_each_tick_once_with_the_kickoff_time(
    registry: Any, clock: Any, new_scheduler: Any
) -> None:
    lp = await registry.scheduled_launch_plan("cron_fires", cron(EVERY_5_MIN))
    start = clock.start_after(lp)
    scheduler = new_scheduler(catchUpLimit=1)
    assert (await scheduler.run_once()).fired == []

    first, second, third = ticks_after(start, 3)
    clock.advance_to(first - timedelta(seconds=1))
    assert (await scheduler.run_once()).fired == []
    clock.advance_to(first)
    assert (await scheduler.run_once()).fired == [execution_name(lp.id, first)]
    clock.advance_to(first + timedelta(minutes=2))
    assert (await scheduler.run_once()).fired == []  # the same tick never fires twice
    clock.advance_to(third + timedelta(seconds=30))  # a slow round: the due tick and one missed one fire, in order
    assert (await scheduler.run_once()).fired == [execution_name(lp.id, second), execution_name(lp.id, third)]
    _skipped, fifth, sixth = ticks_after(third, 3)
    clock.advance_to(sixth)  # a stalled loop: beyond the due tick, at most catchUpLimit (1) missed ticks fire
    assert (await scheduler.run_once()).fired == [execution_name(lp.id, fifth), execution_name(lp.id, sixth)]

    fired = {execution_name(lp.id, t) for t in (first, second, third, fifth, sixth)}
    assert await registry.execution_names("cron_fires") == fired
    execution = await registry.execution(execution_name(lp.id, second))
    assert execution.spec.launch_plan == lp.id
    assert execution.spec.metadata.mode == execution_pb2.ExecutionMetadata.SCHEDULED
    assert execution.spec.metadata.scheduled_at.ToDatetime(tzinfo=second.tzinfo) == second
    kickoff = (await registry.inputs(execution_name(lp.id, second))).literals["kickoff_time"]
    assert kickoff.scalar.primitive.datetime.ToDatetime(tzinfo=second.tzinfo) == second


async def test_fixed_rate_launch_plan_fires_from_its_activation(registry: Any, clock: Any, new_scheduler: Any) -> None:
    rate = schedule_pb2.Schedule(rate=schedule_pb2.FixedRate(value=2, unit=schedule_pb2.HOUR))
    lp = await registry.scheduled_launch_plan("rate_fires", rate)
    activated = lp.closure.updated_at.ToDatetime(tzinfo=clock.start_after(lp).tzinfo).replace(microsecond=0)
    scheduler = new_scheduler(catchUpLimit=1)
    await scheduler.run_once()
    clock.advance_to(activated + timedelta(hours=4, minutes=1))  # the due tick and one missed one
    fired = (await scheduler.run_once()).fired
    expected = [execution_name(lp.id, activated + timedelta(hours=h)) for h in (2, 4)]
    assert fired == expected
    assert await registry.execution_names("rate_fires") == set(expected)


async def test_two_replicas_fire_each_tick_exactly_once(registry: Any, clock: Any, new_scheduler: Any) -> None:
    lp = await registry.scheduled_launch_plan("two_replicas", cron(EVERY_5_MIN))
    start = clock.start_after(lp)
    replicas = [new_scheduler(catchUpLimit=0), new_scheduler(catchUpLimit=0)]
    await asyncio.gather(*(r.run_once() for r in replicas))
    ticks = ticks_after(start, 6)
    created: list[str] = []
    duplicates: list[str] = []
    for tick in ticks:
        clock.advance_to(tick)
        for result in await asyncio.gather(*(r.run_once() for r in replicas)):
            created += result.fired
            duplicates += result.duplicates
    expected = [execution_name(lp.id, t) for t in ticks]
    assert sorted(created) == sorted(expected)  # each tick created by exactly one replica
    assert sorted(duplicates) == sorted(expected)  # ... and refused to the other as ALREADY_EXISTS
    assert await registry.execution_names("two_replicas") == set(expected)


async def test_restart_after_downtime_catches_up_as_configured(registry: Any, clock: Any, new_scheduler: Any) -> None:
    lp = await registry.scheduled_launch_plan("catch_up", cron(EVERY_5_MIN))
    start = clock.start_after(lp)
    ticks = ticks_after(start, 8)
    before = new_scheduler(catchUpLimit=3)
    await before.run_once()
    clock.advance_to(ticks[0])
    assert (await before.run_once()).fired == [execution_name(lp.id, ticks[0])]

    # Down from just after ticks[0] until just after ticks[5]: five ticks missed; the limit keeps the newest three.
    clock.advance_to(ticks[5] + timedelta(seconds=20))
    after = new_scheduler(catchUpLimit=3)
    assert (await after.run_once()).fired == [execution_name(lp.id, t) for t in ticks[3:6]]
    clock.advance_to(ticks[6])
    assert (await after.run_once()).fired == [execution_name(lp.id, ticks[6])]

    # A second restart with a generous limit fires the two skipped ticks; the rest already exist.
    again = new_scheduler(catchUpLimit=10)
    result = await again.run_once()
    assert result.fired == [execution_name(lp.id, t) for t in ticks[1:3]]
    assert result.duplicates == [execution_name(lp.id, t) for t in (ticks[0], *ticks[3:7])]
    assert await registry.execution_names("catch_up") == {execution_name(lp.id, t) for t in ticks[:7]}


async def test_deactivating_or_replacing_the_launch_plan_stops_its_schedule(
    registry: Any, clock: Any, new_scheduler: Any
) -> None:
    v1 = await registry.scheduled_launch_plan("replaced", cron(EVERY_5_MIN))
    start = clock.start_after(v1)
    scheduler = new_scheduler(catchUpLimit=0)
    await scheduler.run_once()
    first, second, *_ = ticks_after(start, 3)
    clock.advance_to(first)
    assert (await scheduler.run_once()).fired == [execution_name(v1.id, first)]

    await registry.set_state(v1.id, launch_plan_pb2.INACTIVE)
    clock.advance_to(second)
    assert (await scheduler.run_once()).fired == []
    assert scheduler.schedules == {}

    # Version 2 (hourly) activated: version 1 stays stopped, version 2's ticks fire under its own names.
    v2 = await registry.scheduled_launch_plan("replaced", cron("@hourly"), version="v2")
    await scheduler.run_once()  # the fake clock is already past v2's activation
    hour = ticks_after(clock.now, 1, "0 * * * *")[0]
    clock.advance_to(hour)
    assert (await scheduler.run_once()).fired == [execution_name(v2.id, hour)]
    assert [key[3] for key in scheduler.schedules] == ["v2"]
