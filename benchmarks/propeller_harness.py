"""Pieces both propeller benchmarks use (bench_propeller.py, bench_maps.py): a counting AdminService stub that
acknowledges events, a plugin that succeeds at once (--engine-only), timing an execution until admin holds its
terminal event, and the bare-process spawn baseline."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
from aloft.dataplane.v1 import dataplane_pb2
from aloft.events.v1 import events_pb2, events_pb2_grpc
from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.core import execution_pb2
from flyteidl.service import admin_pb2, admin_pb2_grpc

from aloft_service.runtime import ListenConfig, RunningService, Service, start_service

TERMINAL = (execution_pb2.WorkflowExecution.SUCCEEDED, execution_pb2.WorkflowExecution.FAILED)


class CountingAdmin(admin_pb2_grpc.AdminServiceServicer):
    def __init__(self) -> None:
        self.events = 0
        self.finished: dict[str, int] = {}  # execution name → terminal workflow phase received

    async def CreateWorkflowEvent(self, request: Any, context: Any) -> Any:
        self.events += 1
        if request.event.phase in TERMINAL:
            self.finished[request.event.execution_id.name] = request.event.phase
        return admin_event_pb2.WorkflowExecutionEventResponse()

    async def CreateNodeEvent(self, request: Any, context: Any) -> Any:
        self.events += 1
        return admin_event_pb2.NodeExecutionEventResponse()

    async def CreateTaskEvent(self, request: Any, context: Any) -> Any:
        self.events += 1
        return admin_event_pb2.TaskExecutionEventResponse()


class CountingEventBatches(events_pb2_grpc.EventServiceServicer):
    """aloft.events.v1 batches, acknowledged at once and counted by the same CountingAdmin."""

    def __init__(self, admin: CountingAdmin) -> None:
        self.admin = admin

    async def RecordEvents(self, request: Any, context: Any) -> Any:
        for event in request.events:
            self.admin.events += 1
            if event.HasField("workflow") and event.workflow.phase in TERMINAL:
                self.admin.finished[event.workflow.execution_id.name] = event.workflow.phase
        ok = events_pb2.EventOutcome(code=grpc.StatusCode.OK.value[0])
        return events_pb2.RecordEventsResponse(outcomes=[ok] * len(request.events))


async def start_counting_admin() -> tuple[CountingAdmin, RunningService]:
    admin = CountingAdmin()

    def register(server: grpc.aio.Server) -> None:
        admin_pb2_grpc.add_AdminServiceServicer_to_server(admin, server)
        events_pb2_grpc.add_EventServiceServicer_to_server(CountingEventBatches(admin), server)

    names = [
        admin_pb2.DESCRIPTOR.services_by_name["AdminService"].full_name,
        events_pb2.DESCRIPTOR.services_by_name["EventService"].full_name,
    ]
    return admin, await start_service(Service("bench-admin", names, [register]), ListenConfig())


class InstantPlugin:
    """--engine-only: every attempt succeeds on its first handle, so only the engine's work is measured."""

    id = "instant"
    task_types = ("raw-container",)

    async def handle(self, ctx: Any) -> Any:
        from aloft_propeller.plugins.base import Phase, PhaseInfo, PluginAnswer

        return PluginAnswer(PhaseInfo(Phase.SUCCESS))

    async def abort(self, ctx: Any, reason: str) -> None:
        return None

    async def finalize(self, ctx: Any) -> None:
        return None

    def for_task_type(self, task_type: str) -> Any:
        return self


async def time_execution(
    client: Any, admin: CountingAdmin, request: dataplane_pb2.CreateExecutionRequest, poll: float = 0.005
) -> float:
    """Seconds from CreateExecution until admin holds the terminal workflow event. Workflow events are delivered
    after every node and task event before them, so by then every event of the run is durable in admin."""
    name = request.id.name
    start = time.perf_counter()
    await client.CreateExecution(request)
    while name not in admin.finished:
        await asyncio.sleep(poll)
    elapsed = time.perf_counter() - start
    if admin.finished[name] != execution_pb2.WorkflowExecution.SUCCEEDED:
        status = await client.GetExecutionStatus(dataplane_pb2.GetExecutionStatusRequest(id=request.id))
        raise SystemExit(f"{name} failed: {status.error.message}")
    return elapsed


def spawn_seconds(count: int, threads: int, command: Sequence[str] = ("true",)) -> float:
    """The baseline: spawning and reaping ``count`` bare processes, sequentially or from ``threads`` threads."""

    def one(_: int) -> None:
        subprocess.run(list(command), check=True)

    start = time.perf_counter()
    if threads == 1:
        for i in range(count):
            one(i)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(count)))
    return time.perf_counter() - start


def process_cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) of ``pid`` itself and of its children it has reaped (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    own = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    children = (int(fields[13]) + int(fields[14])) / ticks  # cutime, cstime
    return own, children


TRANSITION_METRIC = "flyte:propeller:all:node:transition_latency_ms"


def transition_totals(http_port: int) -> tuple[float, float]:
    """Propeller's Flyte transition latency histogram from its /metrics, summed over workflows: (count, sum in ms).
    The difference of two readings is what the runs in between observed."""
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=30) as response:
        body = response.read().decode()
    count = total = 0.0
    for line in body.splitlines():
        if line.startswith(f"{TRANSITION_METRIC}_count{{"):
            count += float(line.rsplit(" ", 1)[1])
        elif line.startswith(f"{TRANSITION_METRIC}_sum{{"):
            total += float(line.rsplit(" ", 1)[1])
    return count, total


def transition_mean_ms(before: tuple[float, float], after: tuple[float, float]) -> float | None:
    count = after[0] - before[0]
    return (after[1] - before[1]) / count if count else None
