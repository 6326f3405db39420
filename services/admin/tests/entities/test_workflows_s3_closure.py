"""Workflow closures offloaded to an S3 blob store. S3 is emulated by moto's server mode on a local port
(aloft_testing.s3; no AWS here); the row keeps only the s3:// URI, GetWorkflow reads the closure back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from flyteidl.admin import common_pb2
from flyteidl.service import admin_pb2_grpc
from sqlalchemy import select

from aloft_admin.config import AdminConfig
from aloft_admin.repositories.models.entities import WorkflowRow
from aloft_admin.server import build_deps, build_service, run_migrations
from aloft_service.runtime import ListenConfig, start_service
from aloft_testing.s3 import create_bucket, s3_storage_section

BUCKET = "aloft-closures"


@pytest.fixture(scope="module", autouse=True)
def _bucket(s3_endpoint: str) -> None:
    create_bucket(s3_endpoint, BUCKET)


@pytest.fixture
async def s3_admin(tmp_path: Path, s3_endpoint: str) -> AsyncIterator[tuple[Any, Any]]:
    config = AdminConfig.model_validate(
        {
            "stack": {"dataDir": str(tmp_path / "data")},
            "database": {"url": f"sqlite:///{tmp_path / 'admin.db'}"},
            "admin": {"grpcPort": 0, "httpPort": 0},
            "storage": s3_storage_section(s3_endpoint, BUCKET),
        }
    )
    run_migrations(config)
    deps = build_deps(config)
    running = await start_service(build_service(deps), ListenConfig(host="127.0.0.1"))
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.grpc_port}")
    try:
        yield deps, admin_pb2_grpc.AdminServiceStub(channel)
    finally:
        await channel.close()
        await running.stop(grace=0.5)


async def test_closure_lives_in_s3(s3_admin: tuple[Any, Any], entities: Any) -> None:
    deps, stub = s3_admin
    task = entities.task_request("tasks.square")
    await stub.CreateTask(task)
    request = entities.simple_workflow("wf.s3", task.id)
    await stub.CreateWorkflow(request)
    async with deps.db.session() as session:
        row = (await session.scalars(select(WorkflowRow))).one()
    assert row.remote_closure_uri.startswith(f"s3://{BUCKET}/")
    assert await deps.blobs.exists(row.remote_closure_uri)
    got = await stub.GetWorkflow(common_pb2.ObjectGetRequest(id=request.id))
    assert got.closure.compiled_workflow.primary.template.id == request.id
    assert [t.template.id for t in got.closure.compiled_workflow.tasks] == [task.id]
