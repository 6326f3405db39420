"""How the scheduling loop treats admin's refusals: transient ones retry the tick later with backoff (in order,
without blocking other schedules), permanent ones give the tick up, and an unreachable admin keeps the schedules.

An in-memory admin stands in here because these are admin failures on demand; the real admin is in
test_scheduler_admin.py."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from flyteidl.admin import launch_plan_pb2, schedule_pb2
from flyteidl.core import identifier_pb2

from aloft_scheduler.config import SchedulerSection
from aloft_scheduler.names import execution_name
from aloft_scheduler.scheduler import ListingBackoff, Scheduler

ACTIVATED = datetime(2026, 3, 1, 10, 0, 30, tzinfo=UTC)


def rpc_error(code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details="told to fail")


def hourly_plan(name: str) -> launch_plan_pb2.LaunchPlan:
    plan = launch_plan_pb2.LaunchPlan(id=identifier_pb2.Identifier(project="p", domain="d", name=name, version="v1"))
    plan.spec.entity_metadata.schedule.CopyFrom(
        schedule_pb2.Schedule(cron_schedule=schedule_pb2.CronSchedule(schedule="@hourly"))
    )
    plan.closure.state = launch_plan_pb2.ACTIVE
    plan.closure.updated_at.FromDatetime(ACTIVATED)
    return plan


@dataclass
class ScriptedAdmin:
    plans: list[launch_plan_pb2.LaunchPlan]
    failures: dict[str, list[grpc.StatusCode]] = field(default_factory=dict)  # launch plan name -> next refusals
    listing_fails: bool = False
    listings: int = 0  # ListLaunchPlans attempts, answered or not
    created: list[str] = field(default_factory=list)

    async def active_launch_plans(self) -> AsyncIterator[launch_plan_pb2.LaunchPlan]:
        self.listings += 1
        if self.listing_fails:
            raise rpc_error(grpc.StatusCode.UNAVAILABLE)
        for plan in self.plans:
            yield plan

    async def create_scheduled_execution(
        self, launch_plan: identifier_pb2.Identifier, name: str, tick: datetime, kickoff_input: str
    ) -> bool:
        pending = self.failures.get(launch_plan.name, [])
        if pending:
            raise rpc_error(pending.pop(0))
        if name in self.created:
            return False
        self.created.append(name)
        return True


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def hour(h: int) -> datetime:
    return datetime(2026, 3, 1, h, 0, tzinfo=UTC)


async def test_transient_refusals_retry_the_tick_with_backoff_without_holding_up_other_schedules() -> None:
    flaky, steady = hourly_plan("flaky"), hourly_plan("steady")
    admin = ScriptedAdmin([flaky, steady], failures={"flaky": [grpc.StatusCode.UNAVAILABLE] * 2})
    clock = Clock(hour(11) + timedelta(seconds=1))
    scheduler = Scheduler(admin, SchedulerSection(catchUpLimit=0, retryDelay="10s", maxRetries=5), clock)
    await scheduler.run_once()  # first sight at 11:00:01 with no catch-up: nothing due
    clock.now = hour(12)
    assert (await scheduler.run_once()).fired == [execution_name(steady.id, hour(12))]
    clock.now = hour(12) + timedelta(seconds=5)  # before the 10 s backoff: not retried yet
    assert (await scheduler.run_once()).fired == []
    clock.now = hour(12) + timedelta(seconds=10)  # second failure: the backoff doubles to 20 s
    assert (await scheduler.run_once()).fired == []
    clock.now = hour(12) + timedelta(seconds=29)
    assert (await scheduler.run_once()).fired == []
    clock.now = hour(12) + timedelta(seconds=30)
    assert (await scheduler.run_once()).fired == [execution_name(flaky.id, hour(12))]


async def test_permanent_refusals_and_exhausted_retries_give_the_tick_up() -> None:
    plan = hourly_plan("bad")
    admin = ScriptedAdmin(
        [plan],
        failures={"bad": [grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAVAILABLE]},
    )
    clock = Clock(hour(11) + timedelta(seconds=1))
    scheduler = Scheduler(admin, SchedulerSection(catchUpLimit=0, retryDelay="1s", maxRetries=1), clock)
    await scheduler.run_once()
    clock.now = hour(12)
    assert (await scheduler.run_once()).fired == []  # INVALID_ARGUMENT: tick 12:00 given up at once
    clock.now = hour(13)
    assert (await scheduler.run_once()).fired == []  # UNAVAILABLE, one retry allowed
    clock.now = hour(13) + timedelta(seconds=1)
    assert (await scheduler.run_once()).fired == []  # UNAVAILABLE again: 13:00 given up
    clock.now = hour(14)
    assert (await scheduler.run_once()).fired == [execution_name(plan.id, hour(14))]
    assert admin.created == [execution_name(plan.id, hour(14))]


async def test_an_unreachable_admin_keeps_the_schedules_it_had() -> None:
    plan = hourly_plan("kept")
    admin = ScriptedAdmin([plan])
    clock = Clock(hour(11) + timedelta(seconds=1))
    scheduler = Scheduler(admin, SchedulerSection(catchUpLimit=0, resyncInterval="0s"), clock)
    await scheduler.run_once()
    admin.listing_fails = True
    clock.now = hour(12)
    assert (await scheduler.run_once()).fired == [execution_name(plan.id, hour(12))]
    assert len(scheduler.schedules) == 1


async def test_inactive_and_unscheduled_launch_plans_are_not_followed() -> None:
    inactive = hourly_plan("inactive")
    inactive.closure.state = launch_plan_pb2.INACTIVE
    unscheduled = hourly_plan("unscheduled")
    unscheduled.spec.entity_metadata.ClearField("schedule")
    invalid = hourly_plan("invalid")
    invalid.spec.entity_metadata.schedule.cron_schedule.schedule = "0 0 * * * *"
    scheduler = Scheduler(ScriptedAdmin([inactive, unscheduled, invalid]), SchedulerSection(), Clock(hour(11)))
    await scheduler.resync()
    assert scheduler.schedules == {}


async def test_listing_while_admin_is_down_backs_off_and_logs_once_per_step(caplog: pytest.LogCaptureFixture) -> None:
    """Listing is retried after 1, 2, 4, 8, 8 ... s (retryDelay doubling up to maxListingRetryDelay), not every
    round; a warning per backoff step only, and one line when admin answers again."""
    plan = hourly_plan("kept")
    admin = ScriptedAdmin([plan])
    start = hour(11) + timedelta(seconds=1)
    clock = Clock(start)
    config = SchedulerSection(catchUpLimit=0, resyncInterval="10s", retryDelay="1s", maxListingRetryDelay="8s")
    scheduler = Scheduler(admin, config, clock)
    await scheduler.run_once()
    assert admin.listings == 1
    admin.listing_fails = True
    caplog.set_level(logging.INFO, logger="aloft_scheduler.scheduler")
    attempted_at = []
    for second in range(10, 60):  # one round per second, as pollInterval does
        clock.now = start + timedelta(seconds=second)
        before = admin.listings
        await scheduler.run_once()
        if admin.listings > before:
            attempted_at.append(second)
    # first failure at the resync due at 10 s, then the backoff: +1, +2, +4, +8 (the cap), +8 ...
    assert attempted_at == [10, 11, 13, 17, 25, 33, 41, 49, 57]
    assert len(scheduler.schedules) == 1  # kept all along
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [w.rsplit("retrying in ", 1)[1] for w in warnings] == ["1.0s", "2.0s", "4.0s", "8.0s"]
    assert all("cannot list active launch plans (StatusCode.UNAVAILABLE)" in w for w in warnings)

    caplog.clear()
    admin.listing_fails = False
    clock.now = start + timedelta(seconds=65)  # the retry due at 57 + 8 s
    await scheduler.run_once()
    assert admin.listings == 11  # 1 + 9 failed + this one
    assert [r.getMessage() for r in caplog.records] == [
        f"admin lists active launch plans again (after 9 failed attempts since {start + timedelta(seconds=10)})"
    ]
    clock.now = start + timedelta(seconds=70)  # back to resyncInterval: nothing until 65 + 10 s
    await scheduler.run_once()
    assert admin.listings == 11
    clock.now = start + timedelta(seconds=75)
    await scheduler.run_once()
    assert admin.listings == 12


def test_listing_backoff_warns_again_when_the_error_changes_and_starts_over_after_recovery() -> None:
    backoff = ListingBackoff(first_delay=timedelta(seconds=1), max_delay=timedelta(seconds=2))
    now = hour(12)
    assert backoff.failed(grpc.StatusCode.UNAVAILABLE, now)
    assert backoff.failed(grpc.StatusCode.UNAVAILABLE, now)  # 1 s -> 2 s
    assert not backoff.failed(grpc.StatusCode.UNAVAILABLE, now)  # still 2 s, same error: no new warning
    assert backoff.failed(grpc.StatusCode.UNAUTHENTICATED, now)  # same wait, different error
    assert backoff.retry_at == now + timedelta(seconds=2)
    assert not backoff.due(now + timedelta(seconds=1))
    assert backoff.due(now + timedelta(seconds=2))
    assert backoff.recovered() == (4, now)
    assert backoff.failed(grpc.StatusCode.UNAVAILABLE, now)
    assert backoff.delay == timedelta(seconds=1)  # a new outage starts from the first delay
