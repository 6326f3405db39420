"""Data-plane routing and the hand-off repair path ("write the side effect's owner first")."""

from __future__ import annotations

from typing import Any

from flyteidl.admin import execution_pb2, matchable_resource_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.core import literals_pb2

from aloft_admin.config import DataPlaneConfig
from aloft_admin.integrations.dataplane import choose_data_plane
from aloft_admin.managers.executions_handoff import handoff_uri, repair_once

WF = core.WorkflowExecution


def test_routing_by_cluster_label() -> None:
    planes = [
        DataPlaneConfig(name="off", endpoint="x:1", labels=["gpu"], enabled=False),
        DataPlaneConfig(name="a", endpoint="x:2", labels=["general"]),
        DataPlaneConfig(name="b", endpoint="x:3", labels=["gpu", "big"]),
    ]
    assert choose_data_plane(planes, "big").name == "b"  # type: ignore[union-attr]
    assert choose_data_plane(planes, "gpu").name == "b"  # type: ignore[union-attr]  # disabled ones never chosen
    assert choose_data_plane(planes, "a").name == "a"  # type: ignore[union-attr]  # by name
    assert choose_data_plane(planes, "unknown").name == "a"  # type: ignore[union-attr]  # first enabled
    assert choose_data_plane(planes, "").name == "a"  # type: ignore[union-attr]
    assert choose_data_plane(planes[:1], "gpu") is None


async def test_unreachable_data_plane_keeps_execution_and_repair_hands_it_off(exec_server: Any, literals: Any) -> None:
    admin, fake, deps = exec_server.admin, exec_server.dataplane, exec_server.deps
    lp_id = await exec_server.register_launch_plan()
    fake.failing = True
    request = execution_pb2.ExecutionCreateRequest(
        project="flytesnacks",
        domain="development",
        name="stuck",
        spec=execution_pb2.ExecutionSpec(
            launch_plan=lp_id,
            execution_cluster_label=matchable_resource_pb2.ExecutionClusterLabel(value="general"),
        ),
        inputs=literals_pb2.LiteralMap(literals={"a": literals.int_(2)}),
    )
    created = await admin.CreateExecution(request)
    recorded = await admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=created.id))
    assert recorded.closure.phase == WF.UNDEFINED and fake.created == []
    assert recorded.spec.execution_cluster_label.value == "general"

    assert await repair_once(deps) == 0
    fake.failing = False
    assert await repair_once(deps) == 1
    assert [r.id.name for r in fake.created] == ["stuck"]
    assert fake.created[0].config.execution_cluster_label == "general"
    queued = await admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=created.id))
    assert queued.closure.phase == WF.QUEUED
    assert await repair_once(deps) == 0  # handed off exactly once


async def test_one_broken_row_does_not_block_repair_of_others(exec_server: Any, literals: Any) -> None:
    admin, fake, deps = exec_server.admin, exec_server.dataplane, exec_server.deps
    lp_id = await exec_server.register_launch_plan()
    fake.failing = True
    for name in ("broken", "fine"):
        await admin.CreateExecution(
            execution_pb2.ExecutionCreateRequest(
                project="flytesnacks",
                domain="development",
                name=name,
                spec=execution_pb2.ExecutionSpec(launch_plan=lp_id),
                inputs=literals_pb2.LiteralMap(literals={"a": literals.int_(1)}),
            )
        )
    await deps.blobs.delete(handoff_uri(deps, exec_server.wid("broken")))
    fake.failing = False
    assert await repair_once(deps) == 1
    assert [r.id.name for r in fake.created] == ["fine"]
