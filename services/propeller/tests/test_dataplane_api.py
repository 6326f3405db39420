"""DataPlaneService errors and listing over real gRPC: status codes and the field/id they name."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from aloft.dataplane.v1 import dataplane_pb2
from flyteidl.core import execution_pb2, identifier_pb2


async def _code(call: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call
    return error.value.code(), error.value.details() or ""


async def test_create_validates_and_names_the_field(stack: Any) -> None:
    request = dataplane_pb2.CreateExecutionRequest(
        id=identifier_pb2.WorkflowExecutionIdentifier(project="p", domain="d")
    )
    code, details = await _code(stack.client.CreateExecution(request))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "id.name" in details
    request.id.name = "x"
    code, details = await _code(stack.client.CreateExecution(request))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "closure" in details


async def test_create_twice_same_spec_is_accepted_different_spec_is_refused(stack: Any) -> None:
    stack.plugin.durations["add_one"] = 600.0
    execution_id = await stack.create("chain", {"x": 1}, name="dup")
    status = await stack.status(execution_id)
    assert status.cluster == "default" and status.shard_key
    code, details = await _code(stack.create("chain", {"x": 1}, name="dup", max_parallelism=3))
    assert code == grpc.StatusCode.ALREADY_EXISTS and "dup" in details
    await stack.client.AbortExecution(dataplane_pb2.AbortExecutionRequest(id=execution_id, cause="cleanup"))
    assert (await stack.wait(execution_id)).phase == execution_pb2.WorkflowExecution.ABORTED


async def test_unknown_execution_is_not_found(stack: Any) -> None:
    missing = stack.execution_id("missing")
    code, details = await _code(stack.status(missing))
    assert code == grpc.StatusCode.NOT_FOUND and "flytesnacks/development/missing" in details
    code, _ = await _code(stack.client.AbortExecution(dataplane_pb2.AbortExecutionRequest(id=missing)))
    assert code == grpc.StatusCode.NOT_FOUND


async def test_list_pages_and_filters_active(stack: Any) -> None:
    stack.plugin.durations["add_one"] = 600.0
    running = await stack.create("chain", {"x": 1}, name="running")
    done = await stack.create("no_io", {}, name="done")
    assert (await stack.wait(done)).phase == execution_pb2.WorkflowExecution.SUCCEEDED
    page = await stack.client.ListExecutions(dataplane_pb2.ListExecutionsRequest(limit=1))
    rest = await stack.client.ListExecutions(dataplane_pb2.ListExecutionsRequest(limit=1, token=page.token))
    assert [e.id.name for e in page.executions] + [e.id.name for e in rest.executions] == ["running", "done"]
    active = await stack.client.ListExecutions(dataplane_pb2.ListExecutionsRequest(only_active=True))
    assert [e.id.name for e in active.executions] == ["running"]
    await stack.client.AbortExecution(dataplane_pb2.AbortExecutionRequest(id=running, cause="cleanup"))
    assert (await stack.wait(running)).phase == execution_pb2.WorkflowExecution.ABORTED


def _started_for(stack: Any, name: str) -> list[str]:
    return [start for start in stack.plugin.starts() if name in start]


async def test_held_execution_runs_nothing_until_started(stack: Any) -> None:
    """Two-phase hand-off: created with hold, the execution is stored but never evaluated (no event, no task) while
    other executions run; StartExecution releases it; a second StartExecution is a no-op."""
    held = await stack.create("chain", {"x": 1}, name="held", hold=True)
    other = await stack.create("chain", {"x": 2}, name="other")
    assert (await stack.wait(other)).phase == execution_pb2.WorkflowExecution.SUCCEEDED
    status = await stack.status(held)
    assert status.held and status.phase == execution_pb2.WorkflowExecution.QUEUED  # accepted, not started
    assert all(node.attempts == 0 for node in status.nodes)
    assert stack.admin.workflow_phases("held") == [] and _started_for(stack, "held") == []
    await stack.client.StartExecution(dataplane_pb2.StartExecutionRequest(id=held))
    assert (await stack.wait(held)).phase == execution_pb2.WorkflowExecution.SUCCEEDED
    await stack.client.StartExecution(dataplane_pb2.StartExecutionRequest(id=held))  # idempotent
    assert not (await stack.status(held)).held and _started_for(stack, "held")


async def test_abort_of_a_held_execution_ends_it_without_running_anything(stack: Any) -> None:
    """What admin does when a TerminateExecution won the race with its hand-off: abort the held run."""
    held = await stack.create("chain", {"x": 1}, name="held-aborted", hold=True)
    await stack.client.AbortExecution(dataplane_pb2.AbortExecutionRequest(id=held, cause="terminated"))
    status = await stack.wait(held)
    assert status.phase == execution_pb2.WorkflowExecution.ABORTED and status.abort_cause == "terminated"
    assert not status.held
    assert all(node.attempts == 0 for node in status.nodes)
    assert stack.admin.workflow_phases("held-aborted") == [execution_pb2.WorkflowExecution.ABORTED]
    await stack.client.StartExecution(dataplane_pb2.StartExecutionRequest(id=held))  # too late: a no-op
    assert _started_for(stack, "held-aborted") == []
    assert not [e for e in stack.admin.node_events if e.id.execution_id.name == "held-aborted"]
    code, _ = await _code(stack.client.StartExecution(dataplane_pb2.StartExecutionRequest(id=stack.execution_id("x"))))
    assert code == grpc.StatusCode.NOT_FOUND


async def test_batch_create_and_start_answer_each_request_as_its_own_call(stack: Any) -> None:
    """CreateExecutions / StartExecutions: every request handled as CreateExecution / StartExecution would, the
    invalid or unknown ones failing alone with the status their own call would get."""
    held_id = await stack.create("chain", {"x": 1}, name="batch-a", hold=True)
    assert (await stack.status(held_id)).held
    good = dataplane_pb2.CreateExecutionRequest(
        id=stack.execution_id("batch-b"), closure_uri="unused://closure", inputs_uri="unused://inputs", hold=True
    )
    invalid = dataplane_pb2.CreateExecutionRequest(id=identifier_pb2.WorkflowExecutionIdentifier(project="p"))
    created = await stack.client.CreateExecutions(dataplane_pb2.CreateExecutionsRequest(requests=[good, invalid]))
    assert [r.status.code for r in created.results] == [0, grpc.StatusCode.INVALID_ARGUMENT.value[0]]
    assert created.results[0].response.shard_key and not created.results[0].response.already_existed
    assert "id.domain" in created.results[1].status.message
    again = await stack.client.CreateExecutions(dataplane_pb2.CreateExecutionsRequest(requests=[good]))
    assert again.results[0].response.already_existed  # idempotent, as CreateExecution

    missing = stack.execution_id("batch-missing")
    started = await stack.client.StartExecutions(
        dataplane_pb2.StartExecutionsRequest(
            requests=[dataplane_pb2.StartExecutionRequest(id=i) for i in (held_id, missing)]
        )
    )
    assert [r.status.code for r in started.results] == [0, grpc.StatusCode.NOT_FOUND.value[0]]
    assert "batch-missing" in started.results[1].status.message
    assert (await stack.wait(held_id)).phase == execution_pb2.WorkflowExecution.SUCCEEDED
    await stack.client.AbortExecution(dataplane_pb2.AbortExecutionRequest(id=good.id, cause="cleanup"))
