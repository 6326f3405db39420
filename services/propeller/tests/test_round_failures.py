"""A workflow whose evaluation keeps raising is retried with backoff, then failed (propeller.max-workflow-retries);
other executions keep running meanwhile."""

from __future__ import annotations

from typing import Any

import pytest
from aloft.dataplane.v1 import dataplane_pb2
from flyteidl.core import execution_pb2

WF = execution_pb2.WorkflowExecution


@pytest.fixture
def propeller_settings() -> dict[str, Any]:
    return {"max-workflow-retries": 2, "queue": {"queue": {"base-delay": "1ms", "max-delay": "50ms"}}}


async def test_unevaluable_workflow_is_failed_after_max_workflow_retries(stack: Any) -> None:
    execution_id = stack.execution_id("broken")
    request = dataplane_pb2.CreateExecutionRequest(
        id=execution_id, closure_uri=stack.blobs.uri("missing", "closure.pb")
    )
    await stack.client.CreateExecution(request)
    healthy = await stack.create("chain", {"x": 1})
    status = await stack.wait(execution_id)
    assert status.phase == WF.FAILED
    assert status.error.code == "RoundFailure" and "evaluation failed 3 times" in status.error.message
    assert status.error.kind == execution_pb2.ExecutionError.SYSTEM
    assert stack.admin.workflow_phases("broken") == [WF.FAILED]
    assert (await stack.wait(healthy)).phase == WF.SUCCEEDED
