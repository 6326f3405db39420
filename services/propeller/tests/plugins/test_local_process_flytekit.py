"""Real flytekit tasks (committed fast-registered templates) run by the local-process plugin, without the engine.

Needs a flytekit environment ($ALOFT_FLYTEKIT_VENV or .venv-flytekit from `make setup`); skipped otherwise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from flyteidl.core import literals_pb2

from aloft_propeller.config import PropellerConfig
from aloft_propeller.plugins import io
from aloft_propeller.plugins.base import ErrorKind, Phase, PhaseInfo, Resources, TaskExecutionContext
from aloft_propeller.plugins.local_process import LocalProcessPlugin
from aloft_storage import BlobStore

pytestmark = pytest.mark.flytekit

MakeCtx = Callable[..., Awaitable[TaskExecutionContext]]
Drive = Callable[..., Awaitable[PhaseInfo]]


async def test_python_task_runs_and_writes_outputs(
    propeller_config: PropellerConfig,
    blobs: BlobStore,
    make_ctx: MakeCtx,
    drive: Drive,
    flytekit_task: Any,
    literals: Any,
) -> None:
    template = flytekit_task("add")
    assert "--dest-dir" in template.container.args and "/root" in template.container.args
    # With a memory limit, as most registered tasks have: RLIMIT_DATA must leave flytekit room to work.
    ctx = await make_ctx(
        template, {"a": literals.integer(2), "b": literals.integer(40)}, attempt=1, limits=Resources(memory="256Mi")
    )
    plugin = LocalProcessPlugin(propeller_config, blobs)

    info = await drive(plugin, ctx)

    assert info.phase == Phase.SUCCESS, await blobs.read(f"{ctx.output_prefix}/stdout.log")
    outputs = await blobs.read_proto(io.outputs_uri(ctx.output_prefix), literals_pb2.LiteralMap)
    assert outputs.literals["o0"].scalar.primitive.integer == 42
    assert b"adding 2 and 40 in attempt 1" in await blobs.read(f"{ctx.output_prefix}/stdout.log")
    # The code distribution was unpacked into the attempt's working directory, not /root.
    assert (plugin.attempt_dir(ctx).workdir / "demo_tasks.py").is_file()


async def test_recoverable_error_then_success_on_retry(
    propeller_config: PropellerConfig, blobs: BlobStore, make_ctx: MakeCtx, drive: Drive, flytekit_task: Any
) -> None:
    plugin = LocalProcessPlugin(propeller_config, blobs)
    template = flytekit_task("flaky")

    first = await drive(plugin, await make_ctx(template, attempt=0))
    assert first.phase == Phase.RETRYABLE_FAILURE
    assert first.error is not None and first.error.kind == ErrorKind.USER and first.error.recoverable
    assert "transient trouble" in first.error.message

    retry_ctx = await make_ctx(template, attempt=1)
    second = await drive(plugin, retry_ctx)
    assert second.phase == Phase.SUCCESS
    outputs = await blobs.read_proto(io.outputs_uri(retry_ctx.output_prefix), literals_pb2.LiteralMap)
    assert outputs.literals["o0"].scalar.primitive.string_value == "recovered"


async def test_user_exception_is_a_permanent_failure_with_the_message(
    propeller_config: PropellerConfig,
    blobs: BlobStore,
    make_ctx: MakeCtx,
    drive: Drive,
    flytekit_task: Any,
    literals: Any,
) -> None:
    ctx = await make_ctx(flytekit_task("broken"), {"x": literals.integer(5)})
    info = await drive(LocalProcessPlugin(propeller_config, blobs), ctx)
    assert info.phase == Phase.PERMANENT_FAILURE
    assert info.error is not None
    assert info.error.kind == ErrorKind.USER and not info.error.recoverable
    assert "ValueError: bad input 5" in info.error.message


async def test_flytefile_passes_between_tasks(
    propeller_config: PropellerConfig,
    blobs: BlobStore,
    make_ctx: MakeCtx,
    drive: Drive,
    flytekit_task: Any,
    literals: Any,
) -> None:
    plugin = LocalProcessPlugin(propeller_config, blobs)
    producer = await make_ctx(flytekit_task("write_file"), {"text": literals.string("hello")}, node="n0")
    assert (await drive(plugin, producer)).phase == Phase.SUCCESS
    produced = await blobs.read_proto(io.outputs_uri(producer.output_prefix), literals_pb2.LiteralMap)
    file_literal = produced.literals["o0"]
    # Under the raw output prefix, as a plain path: flytekit cannot read back file:// URIs of FlyteFiles.
    uri = file_literal.scalar.blob.uri
    assert uri.startswith(producer.raw_output_prefix.removeprefix("file://")), uri
    assert await blobs.read(uri) == b"hello"

    consumer = await make_ctx(flytekit_task("read_file"), {"f": file_literal}, node="n1")
    assert (await drive(plugin, consumer)).phase == Phase.SUCCESS
    consumed = await blobs.read_proto(io.outputs_uri(consumer.output_prefix), literals_pb2.LiteralMap)
    assert consumed.literals["o0"].scalar.primitive.string_value == "HELLO"
