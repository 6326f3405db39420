"""The local-process plugin on an s3:// blob store, against moto's S3 server mode (an S3 *emulator* on a local
port: no AWS is reachable here). Raw containers move data through the plugin; flytekit tasks reach the store
themselves through the FLYTE_AWS_* settings the plugin passes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import boto3
import pytest
from flyteidl.core import literals_pb2, types_pb2
from moto.server import ThreadedMotoServer

from aloft_propeller.config import PropellerConfig
from aloft_propeller.plugins import io
from aloft_propeller.plugins.base import Phase, PhaseInfo, TaskExecutionContext
from aloft_propeller.plugins.local_process import LocalProcessPlugin
from aloft_storage import BlobStore, StorageConfig, create_blob_store
from aloft_testing.servers import free_port

MakeCtx = Callable[..., Awaitable[TaskExecutionContext]]
Drive = Callable[..., Awaitable[PhaseInfo]]
INT = types_pb2.LiteralType(simple=types_pb2.INTEGER)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def storage_config(s3_endpoint: str, request: pytest.FixtureRequest) -> StorageConfig:
    """Overrides conftest's local store: every fixture built on it (blobs, make_ctx, make_config) uses S3."""
    bucket = f"aloft-{request.node.name.replace('_', '-')[:40].lower()}"
    boto3.client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    ).create_bucket(Bucket=bucket)
    return StorageConfig.model_validate(
        {
            "type": "s3",
            "container": bucket,
            "connection": {
                "endpoint": s3_endpoint,
                "auth-type": "accesskey",
                "access-key": "testing",
                "secret-key": "testing",
                "disable-ssl": True,
            },
        }
    )


@pytest.fixture
def blobs(storage_config: StorageConfig) -> BlobStore:
    return create_blob_store(storage_config)


async def test_raw_container_on_s3(
    propeller_config: PropellerConfig,
    blobs: BlobStore,
    make_ctx: MakeCtx,
    drive: Drive,
    raw_template: Any,
    literals: Any,
) -> None:
    template = raw_template(
        "echo $(( $(cat /var/inputs/x) + 1 )) > /var/outputs/y", inputs={"x": INT}, outputs={"y": INT}
    )
    ctx = await make_ctx(template, {"x": literals.integer(41)})
    assert ctx.output_prefix.startswith("s3://")
    info = await drive(LocalProcessPlugin(propeller_config, blobs), ctx)
    assert info.phase == Phase.SUCCESS, info
    outputs = await blobs.read_proto(io.outputs_uri(ctx.output_prefix), literals_pb2.LiteralMap)
    assert outputs.literals["y"].scalar.primitive.integer == 42
    assert await blobs.exists(f"{ctx.output_prefix}/stdout.log")


@pytest.mark.flytekit
async def test_flytekit_task_reads_and_writes_s3(
    propeller_config: PropellerConfig,
    blobs: BlobStore,
    make_ctx: MakeCtx,
    drive: Drive,
    flytekit_task: Any,
    literals: Any,
) -> None:
    ctx = await make_ctx(flytekit_task("add"), {"a": literals.integer(1), "b": literals.integer(2)})
    info = await drive(LocalProcessPlugin(propeller_config, blobs), ctx)
    assert info.phase == Phase.SUCCESS, await blobs.read(f"{ctx.output_prefix}/stderr.log")
    outputs = await blobs.read_proto(io.outputs_uri(ctx.output_prefix), literals_pb2.LiteralMap)
    assert outputs.literals["o0"].scalar.primitive.integer == 3
