"""The scheduling loop: follow the schedules of ACTIVE launch plans and fire each due tick once.

Every round re-reads ACTIVE launch plans when ``resyncInterval`` has passed (so deactivating or replacing a launch plan
stops its schedule), then creates the execution of every due tick with a name derived from launch plan + tick time.
Replicas need no coordination: they fire the same names and admin refuses the second (ALREADY_EXISTS). A schedule
seen for the first time (a new launch plan, or every schedule after a restart) first catches up on at most
``catchUpLimit`` ticks it missed since the launch plan was activated; those that did fire before are duplicates.

When admin cannot list the launch plans (down, restarting), the current schedules are kept and listing is retried
with exponential backoff (retryDelay doubling up to maxListingRetryDelay): one warning per backoff step or change of
error, one line when admin answers again, instead of a warning every round.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import grpc
from flyteidl.admin import launch_plan_pb2
from flyteidl.core import identifier_pb2

from aloft_scheduler import metrics
from aloft_scheduler.clock import Clock
from aloft_scheduler.config import SchedulerSection
from aloft_scheduler.names import execution_name
from aloft_scheduler.schedules import Cadence, InvalidSchedule, cadence_of

log = logging.getLogger(__name__)

# Refusals that another attempt cannot change (bad launch plan inputs, a launch plan gone): give the tick up.
_PERMANENT = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNIMPLEMENTED,
}


class Admin(Protocol):
    def active_launch_plans(self) -> AsyncIterator[launch_plan_pb2.LaunchPlan]: ...

    async def create_scheduled_execution(
        self, launch_plan: identifier_pb2.Identifier, name: str, tick: datetime, kickoff_input: str
    ) -> bool: ...


ScheduleKey = tuple[str, str, str, str, datetime]  # launch plan project, domain, name, version; activation time


@dataclass
class FollowedSchedule:
    launch_plan: identifier_pb2.Identifier
    cadence: Cadence
    kickoff_input: str
    activated_at: datetime
    cursor: datetime | None = None  # every tick at or before this has been fired or given up
    attempts: int = 0  # failed attempts at the oldest pending tick
    retry_at: datetime | None = None


@dataclass
class ListingBackoff:
    """When to list launch plans again after failed attempts, and what to log about it."""

    first_delay: timedelta
    max_delay: timedelta
    failures: int = 0
    delay: timedelta = timedelta(0)  # the wait after the latest failure
    retry_at: datetime | None = None
    failing_since: datetime | None = None
    last_code: grpc.StatusCode | None = None

    def failed(self, code: grpc.StatusCode, now: datetime) -> bool:
        """Record a failed attempt; True when it is worth a warning (the wait grew, or the error changed)."""
        previous_delay, previous_code = self.delay, self.last_code
        self.failures += 1
        self.delay = self.first_delay if self.failures == 1 else min(self.delay * 2, self.max_delay)
        self.retry_at = now + self.delay
        self.failing_since = self.failing_since or now
        self.last_code = code
        return self.delay != previous_delay or code != previous_code

    def due(self, now: datetime) -> bool:
        return self.retry_at is None or now >= self.retry_at

    def recovered(self) -> tuple[int, datetime | None]:
        """Reset after a successful attempt; (failed attempts, since when) of the outage that ended."""
        ended = (self.failures, self.failing_since)
        self.failures, self.delay, self.retry_at, self.failing_since, self.last_code = 0, timedelta(0), None, None, None
        return ended


@dataclass
class RoundResult:
    fired: list[str] = field(default_factory=list)  # execution names this replica created
    duplicates: list[str] = field(default_factory=list)  # names that already existed


class Scheduler:
    def __init__(self, admin: Admin, config: SchedulerSection, clock: Clock) -> None:
        self._admin = admin
        self._config = config
        self._clock = clock
        self._schedules: dict[ScheduleKey, FollowedSchedule] = {}
        self._synced_at: datetime | None = None
        self._listing = ListingBackoff(config.retryDelay, config.maxListingRetryDelay)

    @property
    def schedules(self) -> Mapping[ScheduleKey, FollowedSchedule]:
        return self._schedules

    async def run_once(self) -> RoundResult:
        """One round: resync when due, then fire every due tick."""
        now = self._clock()
        if self._resync_due(now):
            await self.resync()
        result = RoundResult()
        for schedule in list(self._schedules.values()):
            await self._fire_due(schedule, now, result)
        return result

    @property
    def listing_backoff(self) -> ListingBackoff:
        return self._listing

    def _resync_due(self, now: datetime) -> bool:
        if self._listing.failures:  # admin did not answer: the backoff decides
            return self._listing.due(now)
        return self._synced_at is None or now - self._synced_at >= self._config.resyncInterval

    async def resync(self) -> None:
        """Follow exactly the schedules of the ACTIVE launch plans; keep the current ones when admin cannot answer."""
        try:
            plans = [plan async for plan in self._admin.active_launch_plans()]
        except grpc.aio.AioRpcError as exc:
            self._listing_failed(exc.code())
            return
        failures, since = self._listing.recovered()
        if failures:
            log.info("admin lists active launch plans again (after %d failed attempts since %s)", failures, since)
        followed: dict[ScheduleKey, FollowedSchedule] = {}
        for plan in plans:
            schedule = self._follow(plan)
            if schedule is not None:
                key = _key(schedule.launch_plan, schedule.activated_at)
                followed[key] = self._schedules.get(key, schedule)
        for key in self._schedules.keys() - followed.keys():
            log.info(
                "schedule of launch plan %s stopped (deactivated or replaced)", _text(self._schedules[key].launch_plan)
            )
        if self._synced_at is None:
            log.info(
                "first resync with admin: following %d schedules of %d active launch plans", len(followed), len(plans)
            )
        self._schedules = followed
        self._synced_at = self._clock()
        metrics.active_schedules.set(len(followed))

    def _listing_failed(self, code: grpc.StatusCode) -> None:
        if self._listing.failed(code, self._clock()):
            log.warning(
                "cannot list active launch plans (%s): keeping %d schedules, retrying in %ss",
                code,
                len(self._schedules),
                self._listing.delay.total_seconds(),
            )
        else:
            log.debug("still cannot list active launch plans (%s), attempt %d", code, self._listing.failures)

    def _follow(self, plan: launch_plan_pb2.LaunchPlan) -> FollowedSchedule | None:
        metadata = plan.spec.entity_metadata
        if plan.closure.state != launch_plan_pb2.ACTIVE or not metadata.HasField("schedule"):
            return None
        activated_at = plan.closure.updated_at.ToDatetime(tzinfo=UTC) if plan.closure.HasField("updated_at") else None
        if activated_at is None:
            activated_at = plan.closure.created_at.ToDatetime(tzinfo=UTC)
        try:
            cadence = cadence_of(metadata.schedule, activated_at)
        except InvalidSchedule as exc:
            log.error("launch plan %s: %s; not scheduled", _text(plan.id), exc)
            return None
        return FollowedSchedule(plan.id, cadence, metadata.schedule.kickoff_time_input_arg, activated_at)

    async def _fire_due(self, schedule: FollowedSchedule, now: datetime, result: RoundResult) -> None:
        if schedule.retry_at is not None and now < schedule.retry_at:
            return
        if schedule.cursor is None:  # first sight: catch up on what was missed since activation
            ticks = schedule.cadence.latest(now, self._config.catchUpLimit, after=schedule.activated_at)
        else:
            ticks = list(schedule.cadence.following(schedule.cursor, now))
            limit = self._config.catchUpLimit + 1  # the tick due now plus at most catchUpLimit missed ones
            if len(ticks) > limit:  # the loop stalled (suspend, long outage): bounded as after a restart
                log.warning("launch plan %s: skipping %d missed ticks", _text(schedule.launch_plan), len(ticks) - limit)
                ticks = ticks[-limit:]
        for tick in ticks:
            if not await self._fire(schedule, tick, now, result):
                return  # retried in a later round, in order
            schedule.cursor = tick
        schedule.cursor = now

    async def _fire(self, schedule: FollowedSchedule, tick: datetime, now: datetime, result: RoundResult) -> bool:
        """True when the tick is done with (created, duplicate or given up); False to retry it later."""
        name = execution_name(schedule.launch_plan, tick)
        try:
            created = await self._admin.create_scheduled_execution(
                schedule.launch_plan, name, tick, schedule.kickoff_input
            )
        except grpc.aio.AioRpcError as exc:
            metrics.failed_executions.inc()
            schedule.attempts += 1
            if exc.code() in _PERMANENT or schedule.attempts > self._config.maxRetries:
                what = f"launch plan {_text(schedule.launch_plan)} tick {tick.isoformat()}"
                log.error("%s: giving up after %s: %s", what, exc.code(), exc.details())
                schedule.attempts, schedule.retry_at = 0, None
                return True
            schedule.retry_at = now + self._config.retryDelay * 2 ** (schedule.attempts - 1)
            log.warning(
                "launch plan %s tick %s: %s, retrying", _text(schedule.launch_plan), tick.isoformat(), exc.code()
            )
            return False
        schedule.attempts, schedule.retry_at = 0, None
        metrics.successful_executions.inc()
        if created:
            log.info("launch plan %s: fired %s for %s", _text(schedule.launch_plan), name, tick.isoformat())
            result.fired.append(name)
        else:
            metrics.duplicate_executions.inc()
            result.duplicates.append(name)
        return True

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("scheduler round failed")
            await self._sleep(stop)

    async def _sleep(self, stop: asyncio.Event) -> None:
        wait = self._config.pollInterval
        now = self._clock()
        upcoming = [next(iter(s.cadence.following(now, now + wait)), None) for s in self._schedules.values()]
        soonest = min((t for t in upcoming if t is not None), default=None)
        if soonest is not None:
            wait = max(soonest - now, timedelta(0))
        try:
            await asyncio.wait_for(stop.wait(), timeout=wait.total_seconds())
        except TimeoutError:
            pass


def _key(launch_plan: identifier_pb2.Identifier, activated_at: datetime) -> ScheduleKey:
    return (launch_plan.project, launch_plan.domain, launch_plan.name, launch_plan.version, activated_at)


def _text(launch_plan: identifier_pb2.Identifier) -> str:
    return f"{launch_plan.project}/{launch_plan.domain}/{launch_plan.name}/{launch_plan.version}"
