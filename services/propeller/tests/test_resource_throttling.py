"""Propeller with the real local-process plugin throttled by the Redis ResourceManager (real Redis, unique key
prefix): two executions of a raw ``sh -c`` task under ``plugins.local-process.resource-quota: 1`` never run their
processes at the same time. Each task appends "start"/"end" lines to a shared side-effect log; the check is on the
order of those lines (no interleaving), not on wall-clock durations."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import grpc
import pytest
from aloft.dataplane.v1 import dataplane_pb2, dataplane_pb2_grpc
from flyteidl.core import compiler_pb2, execution_pb2, identifier_pb2, interface_pb2, tasks_pb2, workflow_pb2

from aloft_propeller.config import PropellerConfig
from aloft_propeller.resourcemanager import RedisResourceManager, build_resource_manager
from aloft_propeller.server import build_deps, build_service, run_migrations
from aloft_service.runtime import ListenConfig, start_service

POOL = "local-process:local-process"
TERMINAL = {
    execution_pb2.WorkflowExecution.SUCCEEDED,
    execution_pb2.WorkflowExecution.FAILED,
    execution_pb2.WorkflowExecution.ABORTED,
}


def _closure(log: Path) -> compiler_pb2.CompiledWorkflowClosure:
    """One raw task: log its start, stay running a moment (so the other execution has to wait), log its end."""
    name = "$FLYTE_INTERNAL_EXECUTION_ID"
    script = f'echo "start {name}" >> {log}; sleep 0.5; echo "end {name}" >> {log}'
    task = tasks_pb2.TaskTemplate(
        id=identifier_pb2.Identifier(resource_type=identifier_pb2.TASK, project="p", domain="d", name="t", version="1"),
        type="raw-container",
        interface=interface_pb2.TypedInterface(),
        container=tasks_pb2.Container(
            image="alpine:3.19",
            command=["sh", "-c", script],
            data_config=tasks_pb2.DataLoadingConfig(enabled=True, input_path="/var/inputs", output_path="/var/outputs"),
        ),
    )
    template = workflow_pb2.WorkflowTemplate(
        id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.WORKFLOW, project="p", domain="d", name="wf", version="1"
        ),
        nodes=[
            workflow_pb2.Node(
                id="n0",
                metadata=workflow_pb2.NodeMetadata(name="t"),
                task_node=workflow_pb2.TaskNode(reference_id=task.id),
            )
        ],
    )
    return compiler_pb2.CompiledWorkflowClosure(
        primary=compiler_pb2.CompiledWorkflow(template=template), tasks=[compiler_pb2.CompiledTask(template=task)]
    )


def _config(tmp_path: Path, admin_port: int, redis_url: str) -> PropellerConfig:
    url = urlparse(redis_url)
    return PropellerConfig.model_validate(
        {
            "propeller": {
                "workers": 4,
                "workflow-reeval-duration": "200ms",
                "downstream-eval-duration": "200ms",
                "adminEndpoint": f"127.0.0.1:{admin_port}",
            },
            "database": {"url": f"sqlite:///{tmp_path / 'propeller.db'}"},
            "storage": {"type": "local", "local": {"root": str(tmp_path / "blobs")}},
            "stack": {"dataDir": str(tmp_path / "stack")},
            "plugins": {"local-process": {"resource-quota": 1, "kill-grace-period": "1s"}},
            "resourcemanager": {"type": "redis", "redis": {"hostPaths": [f"{url.hostname}:{url.port}"]}},
        }
    )


@pytest.fixture
async def propeller(
    tmp_path: Path, fake_admin: tuple[Any, int], redis_url: str
) -> AsyncIterator[tuple[dataplane_pb2_grpc.DataPlaneServiceStub, RedisResourceManager, Any]]:
    config = _config(tmp_path, fake_admin[1], redis_url)
    run_migrations(config)
    prefix = f"test-throttle-{uuid.uuid4().hex}:"
    resources = build_resource_manager(config.resourcemanager, key_prefix=prefix)
    assert isinstance(resources, RedisResourceManager)
    running = await start_service(build_service(build_deps(config, resources=resources)), ListenConfig())
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.grpc_port}")
    probe = build_resource_manager(config.resourcemanager, key_prefix=prefix)  # the service closes its own on stop
    assert isinstance(probe, RedisResourceManager)
    try:
        yield dataplane_pb2_grpc.DataPlaneServiceStub(channel), probe, fake_admin[0]
    finally:
        await channel.close()
        await running.stop(grace=0.5)
        await probe._client.delete(f"{prefix}{POOL}")
        await probe.close()


async def _wait(client: dataplane_pb2_grpc.DataPlaneServiceStub, execution_id: Any) -> int:
    give_up = time.monotonic() + 60
    while True:
        status = await client.GetExecutionStatus(dataplane_pb2.GetExecutionStatusRequest(id=execution_id))
        if status.phase in TERMINAL:
            return int(status.phase)
        assert time.monotonic() < give_up, f"{execution_id.name} did not finish: {status}"
        await asyncio.sleep(0.05)


async def test_quota_of_one_serializes_the_processes_of_two_executions(
    tmp_path: Path, propeller: tuple[dataplane_pb2_grpc.DataPlaneServiceStub, RedisResourceManager, Any]
) -> None:
    client, pool, admin = propeller
    log = tmp_path / "side-effects.log"
    closure = _closure(log)
    ids = [identifier_pb2.WorkflowExecutionIdentifier(project="p", domain="d", name=f"x{i}") for i in range(2)]
    for execution_id in ids:
        request = dataplane_pb2.CreateExecutionRequest(
            id=execution_id, compiled_closure=closure, workflow_id=closure.primary.template.id
        )
        await client.CreateExecution(request)

    phases = await asyncio.gather(*(_wait(client, execution_id) for execution_id in ids))
    assert phases == [execution_pb2.WorkflowExecution.SUCCEEDED] * 2

    lines = log.read_text().split()
    events = list(zip(lines[0::2], lines[1::2], strict=True))
    assert [kind for kind, _ in events] == ["start", "end", "start", "end"]
    first, second = events[0][1], events[2][1]
    assert events[1][1] == first and events[3][1] == second and {first, second} == {"x0", "x1"}
    # The one that waited told admin why, and every token went back once the tasks were finalized.
    waited = [
        event
        for event in admin.task_events
        if event.parent_node_execution_id.execution_id.name == second
        and event.phase == execution_pb2.TaskExecution.WAITING_FOR_RESOURCES
    ]
    assert waited and "local-process" in waited[0].reason
    assert await pool.allocated(POOL) == 0
