"""How the scheduling loop treats admin's refusals: transient ones retry the tick later with backoff (in order,
without blocking other schedules), permanent ones give the tick up, and an unreachable admin keeps the schedules.

An in-memory admin stands in here because these are admin failures on demand; the real admin is in
test_scheduler_admin.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import grpc
from flyteidl.admin import launch_plan_pb2, schedule_pb2
from flyteidl.core import identifier_pb2

from aloft_scheduler.config import SchedulerSection
from aloft_scheduler.names import execution_name
from aloft_scheduler.scheduler import Scheduler

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
    created: list[str] = field(default_factory=list)

    async def active_launch_plans(self) -> AsyncIterator[launch_plan_pb2.LaunchPlan]:
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
