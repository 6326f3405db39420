"""The scheduler process: the scheduling loop, plus gRPC health and HTTP /metrics and /healthcheck."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aloft_auth.client import outgoing_interceptors

from aloft_scheduler.admin_client import AdminClient
from aloft_scheduler.clock import offset_clock
from aloft_scheduler.config import SchedulerConfig
from aloft_scheduler.scheduler import Scheduler
from aloft_service.runtime import Service

log = logging.getLogger(__name__)


def build_service(config: SchedulerConfig) -> Service:
    section = config.scheduler
    # The channel connects lazily: nothing here waits for admin, which may still be starting.
    log.info("scheduler: admin at %s (auth %s)", section.adminEndpoint, "on" if config.auth.enabled else "off")
    admin = AdminClient(section.adminEndpoint, outgoing_interceptors(config.auth))
    scheduler = Scheduler(admin, section, offset_clock(section.clockOffset))
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    async def start() -> None:
        tasks.append(asyncio.create_task(scheduler.run_forever(stop)))
        log.info("scheduler: scheduling loop started (resync every %s)", section.resyncInterval)

    async def finish() -> None:
        stop.set()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await admin.close()

    return Service(name="scheduler", service_names=[], registrations=[], on_start=[start], on_stop=[finish])
