"""Workflow closures offloaded to an S3 blob store. S3 is emulated by moto's server mode on a local port (no AWS
here); the row keeps only the s3:// URI, GetWorkflow reads the closure back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import boto3
import grpc
import pytest
from flyteidl.admin import common_pb2
from flyteidl.service import admin_pb2_grpc
from moto.server import ThreadedMotoServer
from sqlalchemy import select

from aloft_admin.config import AdminConfig
from aloft_admin.repositories.models.entities import WorkflowRow
from aloft_admin.server import build_deps, build_service, run_migrations
from aloft_service.runtime import ListenConfig, start_service
from aloft_testing.servers import free_port

BUCKET = "aloft-closures"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="t",
        aws_secret_access_key="t",
    ).create_bucket(Bucket=BUCKET)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
async def s3_admin(tmp_path: Path, s3_endpoint: str) -> AsyncIterator[tuple[Any, Any]]:
    config = AdminConfig.model_validate(
        {
            "stack": {"dataDir": str(tmp_path / "data")},
            "database": {"url": f"sqlite:///{tmp_path / 'admin.db'}"},
            "admin": {"grpcPort": 0, "httpPort": 0},
            "storage": {
                "type": "s3",
                "container": BUCKET,
                "connection": {
                    "endpoint": s3_endpoint,
                    "auth-type": "accesskey",
                    "access-key": "testing",
                    "secret-key": "testing",
                    "disable-ssl": True,
                },
            },
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
