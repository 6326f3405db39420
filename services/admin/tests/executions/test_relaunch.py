"""RelaunchExecution and RecoverExecution create new executions from an existing one's launch plan and inputs."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from flyteidl.admin import execution_pb2
from flyteidl.core import literals_pb2

MODE = execution_pb2.ExecutionMetadata.ExecutionMode


async def original(exec_server: Any, literals: Any) -> Any:
    lp_id = await exec_server.register_launch_plan()
    request = execution_pb2.ExecutionCreateRequest(
        project="flytesnacks",
        domain="development",
        name="orig",
        spec=execution_pb2.ExecutionSpec(launch_plan=lp_id),
        inputs=literals_pb2.LiteralMap(literals={"a": literals.int_(11)}),
    )
    return (await exec_server.admin.CreateExecution(request)).id


async def test_relaunch(exec_server: Any, literals: Any) -> None:
    admin, deps = exec_server.admin, exec_server.deps
    source = await original(exec_server, literals)
    relaunched = await admin.RelaunchExecution(
        execution_pb2.ExecutionRelaunchRequest(id=source, name="again", overwrite_cache=True)
    )
    got = await admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=relaunched.id))
    assert got.id.name == "again"
    assert got.spec.metadata.mode == MODE.RELAUNCH
    assert got.spec.metadata.reference_execution == source
    assert got.spec.overwrite_cache
    sent = exec_server.dataplane.created[-1]
    assert sent.id.name == "again" and sent.config.overwrite_cache and not sent.HasField("recover_from")
    inputs = await deps.blobs.read_proto(sent.inputs_uri, literals_pb2.LiteralMap)
    assert inputs.literals["a"].scalar.primitive.integer == 11

    generated = await admin.RelaunchExecution(execution_pb2.ExecutionRelaunchRequest(id=source))
    assert generated.id.name != source.name and generated.id.project == source.project
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await admin.RelaunchExecution(execution_pb2.ExecutionRelaunchRequest(id=exec_server.wid("gone")))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND and "gone" in (missing.value.details() or "")


async def test_recover(exec_server: Any, literals: Any) -> None:
    admin = exec_server.admin
    source = await original(exec_server, literals)
    recovered = await admin.RecoverExecution(
        execution_pb2.ExecutionRecoverRequest(
            id=source, name="rescued", metadata=execution_pb2.ExecutionMetadata(principal="ops")
        )
    )
    got = await admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=recovered.id))
    assert got.spec.metadata.mode == MODE.RECOVERED
    assert got.spec.metadata.principal == "ops"
    assert got.spec.metadata.reference_execution == source
    sent = exec_server.dataplane.created[-1]
    # The data plane skips nodes the original already succeeded.
    assert sent.id.name == "rescued" and sent.recover_from == source
