"""Delivers the egress outbox: one dispatcher per stream, in admin's process, woken after each commit that added
rows and every ``outbox.pollInterval``.

- ``cloudevents`` is ordered: rows go out in id order and a failed publish stops the round, so the row is retried
  (backing off) before anything after it; per-entity order therefore holds, and a row deleted only after the
  broker acknowledged it makes delivery at-least-once (a crash between the two repeats it, with the same id).
- ``notifications`` is unordered: a failed send backs off on its own row, up to ``maxSendAttempts``.
One admin replica drains a stream at a time: the dispatcher holds a lease row (``outbox.leaseDuration``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flyteidl.admin import notification_pb2
from google.protobuf.message import DecodeError
from prometheus_client import Counter, Gauge

from aloft_admin.config import AdminConfig, OutboxConfig
from aloft_admin.integrations.cloudevents import (
    REQUEST_TYPES,
    Sender,
    build_cloudevents_sender,
    entity_key,
    to_cloud_event,
)
from aloft_admin.integrations.cloudevents_v2 import EnrichedEvents
from aloft_admin.integrations.egress import CLOUD_EVENTS, NOTIFICATIONS, EventEgress, OutboxEgress
from aloft_admin.integrations.notifications import (
    Emailer,
    SnsPublisher,
    SqsProcessor,
    build_notifications_emailer,
)
from aloft_admin.repositories.base import OutboxRepo, RepositoryProvider
from aloft_admin.repositories.models.outbox import OutboxModel

log = logging.getLogger(__name__)

Deliver = Callable[[OutboxModel], Awaitable[None]]
# Builds the structured CloudEvent of an outbox row (its kind and payload).
BuildEvent = Callable[[str, bytes], Awaitable[dict[str, Any]]]

# Flyte's names (scope flyte:admin): cloudevents_publisher publish_total / publish_errors, the emailer's send_total /
# send_success / send_error (prometheus_client adds the _total every counter ends with). The outbox is Aloft's own.
PUBLISHED = Counter("flyte:admin:cloudevents_publisher:publish", "Cloud events publish attempts")
PUBLISH_ERRORS = Counter("flyte:admin:cloudevents_publisher:publish_errors", "Cloud events that failed to publish")
SENT = Counter("flyte:admin:emailer:send", "Notification emails attempted to be sent")
SEND_SUCCESS = Counter("flyte:admin:emailer:send_success", "Notification emails sent")
SEND_ERRORS = Counter("flyte:admin:emailer:send_error", "Notification emails that failed to send")
OUTBOX_DEPTH = Gauge("flyte:admin:outbox:depth", "Messages waiting in the egress outbox", ["stream"])
OUTBOX_DROPPED = Counter(
    "flyte:admin:outbox:dropped", "Messages given up on (undeliverable, or out of send attempts)", ["stream"]
)


class Undeliverable(Exception):
    """The row can never be delivered (undecodable): it is dropped, so it cannot block its stream."""


@dataclass
class Dispatcher:
    repos: RepositoryProvider
    stream: str
    deliver: Deliver
    config: OutboxConfig
    clock: Callable[[], datetime]
    ordered: bool
    max_attempts: int = 0  # unordered streams: drop a row after this many failed attempts (0: never)
    holder: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    _wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    _failures: int = 0

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self) -> None:
        while True:
            try:
                more = await self.round()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox %s: delivery round failed", self.stream)
                more = False
            if more:
                continue
            await self._sleep(self._delay())

    async def _sleep(self, seconds: float) -> None:
        self._wakeup.clear()
        try:
            await asyncio.wait_for(self._wakeup.wait(), timeout=seconds)
        except TimeoutError:
            pass

    def _delay(self) -> float:
        if not self.ordered or self._failures == 0:
            return self.config.pollInterval.total_seconds()
        return self._backoff(self._failures).total_seconds()

    def _backoff(self, failures: int) -> timedelta:
        return min(self.config.retryDelay * 2 ** min(failures - 1, 20), self.config.maxRetryDelay)

    async def round(self) -> bool:
        """Deliver one batch; true when a full batch went out (more may be waiting)."""
        now = self.clock()
        async with self.repos.transaction() as tx:
            if not await tx.outbox.has_rows(self.stream):
                OUTBOX_DEPTH.labels(self.stream).set(0)
                return False  # idle: a read, no lease write
            if not await tx.outbox.claim_lease(self.stream, self.holder, now, now + self.config.leaseDuration):
                return False
            if self.ordered:
                rows = await tx.outbox.head(self.stream, self.config.batchSize)
            else:
                rows = await tx.outbox.due(self.stream, now, self.config.batchSize)
            batch = [(r.id, r.kind, r.payload, r.attempts) for r in rows]
        done, failed = await self._deliver_batch(batch)
        async with self.repos.transaction() as tx:
            await tx.outbox.remove(done)
            for row_id, attempts, error in failed:
                await self._defer_or_drop(tx.outbox, row_id, attempts, error)
            OUTBOX_DEPTH.labels(self.stream).set(await tx.outbox.count(self.stream))
        return len(batch) == self.config.batchSize and not failed

    async def _deliver_batch(
        self, batch: list[tuple[int, str, bytes, int]]
    ) -> tuple[list[int], list[tuple[int, int, str]]]:
        done: list[int] = []
        failed: list[tuple[int, int, str]] = []
        for row_id, kind, payload, attempts in batch:
            row = OutboxModel(id=row_id, stream=self.stream, kind=kind, payload=payload, attempts=attempts)
            try:
                await self.deliver(row)
            except Undeliverable as exc:
                log.error("outbox %s: dropping undeliverable row %d (%s): %s", self.stream, row_id, kind, exc)
                OUTBOX_DROPPED.labels(self.stream).inc()
                done.append(row_id)
                continue
            except Exception as exc:  # noqa: BLE001 - any failure of the broker or server is retried
                log.warning(
                    "outbox %s: delivering row %d failed (attempt %d): %s", self.stream, row_id, attempts + 1, exc
                )
                failed.append((row_id, attempts + 1, f"{type(exc).__name__}: {exc}"))
                if self.ordered:
                    break  # nothing after it goes out first
                continue
            done.append(row_id)
        self._failures = self._failures + 1 if failed else 0
        return done, failed

    async def _defer_or_drop(self, outbox: OutboxRepo, row_id: int, attempts: int, error: str) -> None:
        if self.max_attempts and attempts >= self.max_attempts:
            log.error("outbox %s: giving up on row %d after %d attempts: %s", self.stream, row_id, attempts, error)
            OUTBOX_DROPPED.labels(self.stream).inc()
            await outbox.remove([row_id])
            return
        retry_at = self.clock() + self._backoff(attempts)
        await outbox.defer(row_id, attempts, retry_at, error)

    async def release(self) -> None:
        async with self.repos.transaction() as tx:
            await tx.outbox.release_lease(self.stream, self.holder)


async def v1_cloud_event(kind: str, payload: bytes) -> dict[str, Any]:
    return to_cloud_event(kind, payload)


def cloud_event_delivery(sender: Sender, build: BuildEvent = v1_cloud_event) -> Deliver:
    async def deliver(row: OutboxModel) -> None:
        try:
            event = await build(row.kind, row.payload)
            key = entity_key(REQUEST_TYPES[row.kind].FromString(row.payload))
        except (KeyError, DecodeError, TypeError, LookupError) as exc:  # LookupError: what v2 adds is gone
            raise Undeliverable(str(exc)) from exc
        PUBLISHED.inc()
        try:
            await sender.send(event, key)
        except Exception:
            PUBLISH_ERRORS.inc()
            raise

    return deliver


def email_delivery(emailer: Emailer) -> Deliver:
    async def deliver(row: OutboxModel) -> None:
        try:
            email = notification_pb2.EmailMessage.FromString(row.payload)
        except DecodeError as exc:
            raise Undeliverable(str(exc)) from exc
        SENT.inc()
        try:
            await emailer.send(email)
        except Exception:
            SEND_ERRORS.inc()
            raise
        SEND_SUCCESS.inc()

    return deliver


@dataclass
class EgressWorkers:
    """The running dispatchers (and the clients they own), started and stopped by server.py."""

    dispatchers: list[Dispatcher] = field(default_factory=list)
    # Loops consuming what the dispatchers published elsewhere (the AWS notifications processor).
    processors: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    sender: Sender | None = None

    def start(self) -> None:
        self.tasks = [asyncio.create_task(d.run(), name=f"outbox-{d.stream}") for d in self.dispatchers]
        self.tasks += [asyncio.create_task(run(), name="notifications-processor") for run in self.processors]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks = []
        for dispatcher in self.dispatchers:
            try:
                await dispatcher.release()
            except Exception:  # noqa: BLE001 - the lease expires on its own
                log.warning("outbox %s: could not release the lease", dispatcher.stream)
        if self.sender is not None:
            await self.sender.close()


def build_egress_workers(
    config: AdminConfig, repos: RepositoryProvider, egress: EventEgress, clock: Callable[[], datetime]
) -> EgressWorkers:
    """Dispatchers for the streams the configuration turns on (none for the no-op egress)."""
    workers = EgressWorkers()
    if not isinstance(egress, OutboxEgress):
        return workers
    sender = build_cloudevents_sender(config.cloudEvents)
    if sender is not None:
        workers.sender = sender
        build: BuildEvent = v1_cloud_event
        if config.cloudEvents.cloudEventVersion == "v2":
            build = EnrichedEvents(repos, config.cloudEvents.eventsPublisher).cloud_event
        delivery = cloud_event_delivery(sender, build)
        events = Dispatcher(repos, CLOUD_EVENTS, delivery, config.cloudEvents.outbox, clock, ordered=True)
        egress.on_commit(CLOUD_EVENTS, events.wake)
        workers.dispatchers.append(events)
    if config.notifications.sending():
        notifications = config.notifications
        if notifications.type == "aws":  # published to SNS here, emailed by the processor reading SQS
            publish: Emailer = SnsPublisher(notifications)
            workers.processors.append(SqsProcessor(notifications, build_notifications_emailer(notifications)).run)
        elif notifications.type == "gcp":  # published to a Pub/Sub topic, emailed from its subscription
            from aloft_admin.integrations.gcp_pubsub import PubSubNotificationPublisher, PubSubProcessor

            publish = PubSubNotificationPublisher(notifications)
            workers.processors.append(PubSubProcessor(notifications, build_notifications_emailer(notifications)).run)
        else:  # sandbox: emailed straight from the outbox
            publish = build_notifications_emailer(notifications)
        emails = Dispatcher(
            repos,
            NOTIFICATIONS,
            email_delivery(publish),
            notifications.outbox,
            clock,
            ordered=False,
            max_attempts=notifications.maxSendAttempts,
        )
        egress.on_commit(NOTIFICATIONS, emails.wake)
        workers.dispatchers.append(emails)
    return workers
