"""`aloft-scheduler` as a process beside a real admin: it serves gRPC health and /metrics, and follows the
ACTIVE scheduled launch plans it reads from admin."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
from flyteidl.admin import schedule_pb2

from aloft_testing.processes import run_service
from aloft_testing.servers import free_port


def active_schedules(http_port: int) -> float | None:
    text = httpx.get(f"http://127.0.0.1:{http_port}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith("flyte:scheduler:active_schedules "):
            return float(line.split()[1])
    return None


async def test_scheduler_process_serves_health_and_follows_admins_schedules(
    admin_endpoint: str, registry: Any, tmp_path: Path
) -> None:
    await registry.scheduled_launch_plan(
        "followed_by_process", schedule_pb2.Schedule(cron_schedule=schedule_pb2.CronSchedule(schedule="@daily"))
    )
    grpc_port, http_port = free_port(), free_port()
    config = {"scheduler": {"grpcPort": grpc_port, "httpPort": http_port, "adminEndpoint": admin_endpoint}}
    with run_service("scheduler", config, tmp_path, grpc_port):  # returns once grpc health says SERVING
        deadline = time.monotonic() + 30
        while active_schedules(http_port) != 1.0 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert active_schedules(http_port) == 1.0
