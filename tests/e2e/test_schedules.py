"""A scheduled launch plan end to end: registered by unmodified flytekit, activated, fired by the real
aloft-scheduler process through admin, run by propeller with the tick time as its kickoff input.

The first tick of a one-minute fixed rate comes a minute after activation. The stack's scheduler runs its clock 50 s
ahead (``clockOffset``, aloft_testing.stack.QUICK_SCHEDULER), so it fires that tick about 10 s after activation; the
test waits for it (bounded) and asserts on the execution and its kickoff time, never on how long it took."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from flyteidl.admin import common_pb2, execution_pb2, launch_plan_pb2
from flyteidl.core import identifier_pb2
from flyteidl.service import admin_pb2_grpc

from aloft_scheduler.names import execution_name

pytestmark = [pytest.mark.e2e, pytest.mark.flytekit]

SUCCEEDED = 4


def _wait_for_execution(admin: Any, name: str, timeout: float = 180) -> None:
    wid = identifier_pb2.WorkflowExecutionIdentifier(project="flytesnacks", domain="development", name=name)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=wid), timeout=5)
            return
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise
        time.sleep(1)
    raise AssertionError(f"the scheduler did not create {name} within {timeout}s")


def test_a_fixed_rate_launch_plan_fires_and_runs_with_its_kickoff_time(stack: Any, registered: str) -> None:
    lp_id = identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN,
        project="flytesnacks",
        domain="development",
        name="sched_every_minute",
        version=registered,
    )
    with grpc.insecure_channel(f"127.0.0.1:{stack.ports['admin_grpc']}") as channel:
        admin = admin_pb2_grpc.AdminServiceStub(channel)
        admin.UpdateLaunchPlan(launch_plan_pb2.LaunchPlanUpdateRequest(id=lp_id, state=launch_plan_pb2.ACTIVE))
        try:
            plan = admin.GetLaunchPlan(common_pb2.ObjectGetRequest(id=lp_id))
            activated = plan.closure.updated_at.ToDatetime(tzinfo=UTC).replace(microsecond=0)
            tick = activated + timedelta(minutes=1)
            name = execution_name(lp_id, tick)
            _wait_for_execution(admin, name)
        finally:
            admin.UpdateLaunchPlan(launch_plan_pb2.LaunchPlanUpdateRequest(id=lp_id, state=launch_plan_pb2.INACTIVE))
    result = stack.driver("wait", name)
    assert result["phase"] == SUCCEEDED, result
    assert datetime.fromisoformat(result["outputs"]["o0"]).replace(tzinfo=UTC) == tick, result
