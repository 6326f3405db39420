"""The local-process plugin on an s3:// blob store, against moto's S3 server mode (an S3 *emulator* on a local
port, aloft_testing.s3: no AWS is reachable here). Raw containers move data through the plugin; flytekit tasks reach
the store themselves through the FLYTE_AWS_* settings the plugin passes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from flyteidl.core import literals_pb2, types_pb2

from aloft_propeller.config import PropellerConfig
from aloft_propeller.plugins import io
from aloft_propeller.plugins.base import Phase, PhaseInfo, TaskExecutionContext
from aloft_propeller.plugins.local_process import LocalProcessPlugin
from aloft_storage import BlobStore, StorageConfig, create_blob_store
from aloft_testing.s3 import s3_storage_section

MakeCtx = Callable[..., Awaitable[TaskExecutionContext]]
Drive = Callable[..., Awaitable[PhaseInfo]]
INT = types_pb2.LiteralType(simple=types_pb2.INTEGER)


@pytest.fixture
def storage_config(s3_endpoint: str, s3_bucket: str) -> StorageConfig:
    """Overrides conftest's local store: every fixture built on it (blobs, make_ctx, make_config) uses S3."""
    return StorageConfig.model_validate(s3_storage_section(s3_endpoint, s3_bucket))


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
    assert info.phase == Phase.SUCCESS, await blobs.read(f"{ctx.output_prefix}/stdout.log")
    outputs = await blobs.read_proto(io.outputs_uri(ctx.output_prefix), literals_pb2.LiteralMap)
    assert outputs.literals["o0"].scalar.primitive.integer == 3
