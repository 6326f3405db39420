"""The launch-target LRU and the data-plane client factory (no-op default when no data plane is configured)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aloft.dataplane.v1 import dataplane_pb2
from flyteidl.admin import launch_plan_pb2
from flyteidl.core import identifier_pb2, interface_pb2

from aloft_admin.config import AdminConfig
from aloft_admin.integrations.dataplane import (
    DataPlaneUnavailable,
    GrpcDataPlaneClient,
    NoDataPlanes,
    build_dataplane_client,
)
from aloft_admin.managers.launch_targets import LaunchTarget, LaunchTargetCache


def _lp_id(version: str) -> identifier_pb2.Identifier:
    return identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN, project="p", domain="d", name="lp", version=version
    )


def _target(version: str) -> LaunchTarget:
    return LaunchTarget(
        launch_plan_id=_lp_id(version),
        spec=launch_plan_pb2.LaunchPlanSpec(),
        expected_inputs=interface_pb2.ParameterMap(),
        workflow_id=identifier_pb2.Identifier(name="wf", version=version),
        workflow_closure_uri=f"file:///closures/{version}.pb",
    )


def test_launch_target_cache_evicts_the_least_recently_used() -> None:
    cache = LaunchTargetCache(size=2)
    cache.put(_lp_id("v1"), _target("v1"))
    cache.put(_lp_id("v2"), _target("v2"))
    assert cache.get(_lp_id("v1")) == _target("v1")  # v1 is now the most recently used
    cache.put(_lp_id("v3"), _target("v3"))
    assert cache.get(_lp_id("v2")) is None
    assert cache.get(_lp_id("v1")) == _target("v1")
    assert cache.get(_lp_id("v3")) == _target("v3")
    assert cache.get(_lp_id("other")) is None


async def test_no_configured_data_plane_routes_nothing_and_refuses_calls(tmp_path: Path) -> None:
    config = AdminConfig.model_validate({"stack": {"dataDir": str(tmp_path)}, "admin": {"dataPlanes": []}})
    client = build_dataplane_client(config)
    assert isinstance(client, NoDataPlanes)
    assert client.route("") is None and client.route("gpu") is None
    with pytest.raises(DataPlaneUnavailable, match="'east' is not configured"):
        await client.create_execution("east", dataplane_pb2.CreateExecutionRequest())
    with pytest.raises(DataPlaneUnavailable, match="'east' is not configured"):
        await client.abort_execution("east", identifier_pb2.WorkflowExecutionIdentifier(name="x"), "stop")
    await client.close()


def test_configured_data_planes_get_the_grpc_client(tmp_path: Path) -> None:
    planes = [{"name": "local", "endpoint": "127.0.0.1:1"}]
    config = AdminConfig.model_validate({"stack": {"dataDir": str(tmp_path)}, "admin": {"dataPlanes": planes}})
    client = build_dataplane_client(config)
    assert isinstance(client, GrpcDataPlaneClient)
    assert client.route("") == "local"
