"""Data-plane routing and the hand-off repair path ("write the side effect's owner first")."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

import grpc
import pytest
from flyteidl.admin import common_pb2, execution_pb2, matchable_resource_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.core import literals_pb2
from pydantic import ValidationError
from sqlalchemy import select, update

from aloft_admin.config import AdminConfig, ClustersConfig, DataPlaneConfig
from aloft_admin.integrations.dataplane import ClusterRouter
from aloft_admin.managers import executions_handoff
from aloft_admin.managers.executions_config import cluster_pool
from aloft_admin.repositories.models.executions import ExecutionModel
from aloft_service.errors import InvalidArgument

WF = core.WorkflowExecution
CLUSTER = "east"  # the enabled data plane of exec_server (executions/conftest.py)


PLANES = [
    DataPlaneConfig(name="off", endpoint="x:1", labels=["gpu"], enabled=False),
    DataPlaneConfig(name="a", endpoint="x:2", labels=["general"]),
    DataPlaneConfig(name="b", endpoint="x:3", labels=["gpu", "big"], weight=3),
]


def test_routing_by_cluster_label() -> None:
    router = ClusterRouter(PLANES)
    assert router.choose("big") == "b"
    assert router.choose("gpu", seed="any") == "b"  # disabled clusters are never chosen
    assert router.choose("a") == "a"  # by name
    with pytest.raises(InvalidArgument, match=r"'unknown' names no enabled cluster"):
        router.choose("unknown")
    assert ClusterRouter(PLANES[:1]).choose("") is None  # no enabled cluster at all: the hand-off waits
    with pytest.raises(InvalidArgument, match="'gpu'"):
        ClusterRouter(PLANES[:1]).choose("gpu")


def test_weighted_choice_is_stable_per_execution_and_follows_the_weights() -> None:
    router = ClusterRouter(PLANES)
    picks = Counter(router.choose("", seed=f"p/d/e{i}") for i in range(2000))
    assert set(picks) == {"a", "b"}
    assert 2.4 < picks["b"] / picks["a"] < 3.7  # weights 1 : 3
    assert all(router.choose("", seed=f"p/d/e{i}") == router.choose("", seed=f"p/d/e{i}") for i in range(50))


def test_label_groups_and_the_default_label() -> None:
    clusters = ClustersConfig.model_validate(
        {
            "labelClusterMap": {"batch": [{"id": "a", "weight": 1}, {"id": "off", "weight": 5}], "gpu": [{"id": "a"}]},
            "defaultExecutionLabel": "batch",
        }
    )
    router = ClusterRouter(PLANES, clusters)
    assert {router.choose("", seed=str(i)) for i in range(30)} == {"a"}  # default label; disabled "off" skipped
    assert router.choose("gpu") == "a"  # the label group wins over clusters' own labels
    assert router.choose("big") == "b"


def test_label_groups_must_name_configured_clusters() -> None:
    with pytest.raises(ValidationError, match=r"labelClusterMap\['x'\] names unknown cluster"):
        AdminConfig.model_validate({"clusters": {"labelClusterMap": {"x": [{"id": "nowhere"}]}}})
    config = AdminConfig.model_validate(
        {
            "clusters": {
                "clusterConfigs": [{"name": "c1", "endpoint": "h:1", "weight": 2, "auth": {"type": "file_path"}}]
            }
        }
    )
    assert [p.name for p in config.data_planes()] == ["c1"]  # clusterConfigs replace admin.dataPlanes


def test_cluster_pool_follows_flyteadmins_rule() -> None:
    assert cluster_pool("", "pool-a") == "pool-a"
    assert cluster_pool("pool-b", "") == "pool-b"
    assert cluster_pool("pool-a", "pool-a") == "pool-a"
    with pytest.raises(InvalidArgument, match=r"'pool-b'.*'pool-a'"):
        cluster_pool("pool-b", "pool-a")


async def test_unknown_label_is_refused_and_the_chosen_cluster_is_shown(exec_server: Any, literals: Any) -> None:
    admin, fake = exec_server.admin, exec_server.dataplane
    lp_id = await exec_server.register_launch_plan()

    def create(name: str, label: str) -> Any:
        spec = execution_pb2.ExecutionSpec(launch_plan=lp_id)
        if label:
            spec.execution_cluster_label.value = label
        return execution_pb2.ExecutionCreateRequest(
            project="flytesnacks",
            domain="development",
            name=name,
            spec=spec,
            inputs=literals_pb2.LiteralMap(literals={"a": literals.int_(2)}),
        )

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await admin.CreateExecution(create("nowhere", "mars"))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "'mars'" in (refused.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as disabled:
        await admin.CreateExecution(create("disabled", "gpu"))  # only the disabled cluster has it
    assert disabled.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fake.created == []

    created = await admin.CreateExecution(create("routed", ""))
    got = await admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=created.id))
    assert got.spec.metadata.system_metadata.execution_cluster == CLUSTER
    assert [r.cluster for r in fake.created] == [CLUSTER]

    # Relaunch and recover are routed again by the same rules (the new execution's own choice, stored and shown).
    again = await admin.RelaunchExecution(execution_pb2.ExecutionRelaunchRequest(id=created.id, name="again"))
    recovered = await admin.RecoverExecution(execution_pb2.ExecutionRecoverRequest(id=created.id, name="recovered"))
    for wid in (again.id, recovered.id):
        shown = await admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=wid))
        assert shown.spec.metadata.system_metadata.execution_cluster == CLUSTER
    assert [(r.id.name, r.cluster) for r in fake.created][1:] == [("again", CLUSTER), ("recovered", CLUSTER)]


async def test_unreachable_data_plane_keeps_execution_and_repair_hands_it_off(exec_server: Any, literals: Any) -> None:
    admin, fake = exec_server.admin, exec_server.dataplane
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

    assert await exec_server.managers.handoffs.repair_once() == 0
    fake.failing = False
    exec_server.skip_ahead()  # past the backoff of the failed first try
    assert await exec_server.managers.handoffs.repair_once() == 1
    assert [r.id.name for r in fake.created] == ["stuck"]
    assert fake.created[0].config.execution_cluster_label == "general"
    queued = await admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=created.id))
    assert queued.closure.phase == WF.QUEUED
    assert await exec_server.managers.handoffs.repair_once() == 0  # handed off exactly once


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
    async with deps.db.session() as session:  # a hand-off request that no longer parses
        await session.execute(
            update(ExecutionModel).where(ExecutionModel.name == "broken").values(handoff_request=b"\xff")
        )
    fake.failing = False
    exec_server.skip_ahead()
    assert await exec_server.managers.handoffs.repair_once() == 1
    assert [r.id.name for r in fake.created] == ["fine"]


async def test_repair_hands_off_a_row_whose_request_is_a_blob(exec_server: Any, literals: Any) -> None:
    """Rows created before executions_0003 keep the hand-off request in the blob store, not in the row."""
    admin, fake, deps = exec_server.admin, exec_server.dataplane, exec_server.deps
    lp_id = await exec_server.register_launch_plan()
    fake.failing = True
    await admin.CreateExecution(create_request(lp_id, "older", literals))
    wid = exec_server.wid("older")
    async with deps.db.session() as session:
        row = (await session.execute(select(ExecutionModel).where(ExecutionModel.name == "older"))).scalar_one()
        assert row.handoff_request is not None
        await deps.blobs.write(exec_server.managers.handoffs.uri(wid), row.handoff_request)
        row.handoff_request = None
    fake.failing = False
    exec_server.skip_ahead()
    assert await exec_server.managers.handoffs.repair_once() == 1
    assert [r.id.name for r in fake.created] == ["older"]
    async with deps.db.session() as session:
        row = (await session.execute(select(ExecutionModel).where(ExecutionModel.name == "older"))).scalar_one()
        assert row.handoff == "done" and row.handoff_request is None


def create_request(lp_id: Any, name: str, literals: Any) -> execution_pb2.ExecutionCreateRequest:
    return execution_pb2.ExecutionCreateRequest(
        project="flytesnacks",
        domain="development",
        name=name,
        spec=execution_pb2.ExecutionSpec(launch_plan=lp_id),
        inputs=literals_pb2.LiteralMap(literals={"a": literals.int_(1)}),
    )


async def test_permanent_refusal_ends_execution_failed_with_the_cause(exec_server: Any, literals: Any) -> None:
    admin, fake = exec_server.admin, exec_server.dataplane
    lp_id = await exec_server.register_launch_plan()
    fake.refuse = grpc.StatusCode.INVALID_ARGUMENT
    created = await admin.CreateExecution(create_request(lp_id, "refused", literals))
    failed = await admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=created.id))
    assert failed.closure.phase == WF.FAILED
    error = failed.closure.error
    assert error.kind == core.ExecutionError.SYSTEM and error.code == "DataPlaneRefused"
    assert "INVALID_ARGUMENT" in error.message and "not valid for this data plane" in error.message
    fake.refuse = None
    exec_server.skip_ahead()
    assert await exec_server.managers.handoffs.repair_once() == 0 and fake.created == []  # never retried
    listed = await admin.ListExecutions(
        common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project="flytesnacks", domain="development"),
            limit=10,
            filters="eq(phase,FAILED)",
        )
    )
    assert [e.id.name for e in listed.executions] == ["refused"]


async def test_rows_that_keep_failing_do_not_starve_newer_ones(
    exec_server: Any, literals: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin, fake, deps = exec_server.admin, exec_server.dataplane, exec_server.deps
    monkeypatch.setattr(executions_handoff, "REPAIR_BATCH", 3)
    lp_id = await exec_server.register_launch_plan()
    fake.unavailable_for = {"bad0", "bad1", "bad2"}
    fake.failing = True
    for name in ("bad0", "bad1", "bad2", "good"):
        await admin.CreateExecution(create_request(lp_id, name, literals))
    fake.failing = False  # the data plane is back, except for the three bad rows
    for _ in range(3):  # bounded: each round pushes the failing rows back behind the good one
        exec_server.skip_ahead()
        await exec_server.managers.handoffs.repair_once()
        if fake.created:
            break
    assert [r.id.name for r in fake.created] == ["good"]
    async with deps.db.session() as session:
        rows = (await session.execute(select(ExecutionModel).order_by(ExecutionModel.id))).scalars().all()
    by_name = {row.name: row for row in rows}
    assert by_name["good"].handoff == "done"
    assert all(by_name[n].handoff == "pending" and by_name[n].handoff_attempts >= 2 for n in fake.unavailable_for)


async def test_aborts_that_keep_failing_do_not_starve_newer_ones(
    exec_server: Any, literals: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin, fake = exec_server.admin, exec_server.dataplane
    monkeypatch.setattr(executions_handoff, "REPAIR_BATCH", 2)
    lp_id = await exec_server.register_launch_plan()
    names = ("old0", "old1", "new")
    for name in names:
        await admin.CreateExecution(create_request(lp_id, name, literals))
    fake.failing = True
    for name in names:
        await admin.TerminateExecution(execution_pb2.ExecutionTerminateRequest(id=exec_server.wid(name), cause="x"))
    assert fake.aborted == []
    exec_server.skip_ahead()
    assert await exec_server.managers.handoffs.repair_once() == 0  # the two oldest fail again and move back
    fake.failing = False
    exec_server.skip_ahead(timedelta(seconds=1))  # "new" is due; the two that just failed again back off 4 s
    assert await exec_server.managers.handoffs.repair_once() == 1
    assert [r.id.name for r in fake.aborted] == ["new"]


async def test_parallel_creates_with_one_name_make_one_execution(exec_server: Any, literals: Any) -> None:
    admin, fake = exec_server.admin, exec_server.dataplane
    lp_id = await exec_server.register_launch_plan()
    request = create_request(lp_id, "once", literals)
    results = await asyncio.gather(*(admin.CreateExecution(request) for _ in range(20)), return_exceptions=True)
    ok = [r for r in results if not isinstance(r, BaseException)]
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(ok) == 1 and ok[0].id.name == "once"
    assert [e.code() for e in errors] == [grpc.StatusCode.ALREADY_EXISTS] * 19  # type: ignore[attr-defined]
    assert [r.id.name for r in fake.created] == ["once"]  # the data plane was asked once
    listed = await admin.ListExecutions(
        common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project="flytesnacks", domain="development"), limit=100
        )
    )
    assert [e.id.name for e in listed.executions] == ["once"]
    assert listed.executions[0].closure.phase == WF.QUEUED


BACKGROUND = {"admin": {"handoffInBackground": True}}  # admin's default; exec_server waits for the hand-off


def _create_request(lp_id: Any, literals: Any, name: str) -> execution_pb2.ExecutionCreateRequest:
    return execution_pb2.ExecutionCreateRequest(
        project="flytesnacks",
        domain="development",
        name=name,
        spec=execution_pb2.ExecutionSpec(launch_plan=lp_id),
        inputs=literals_pb2.LiteralMap(literals={"a": literals.int_(1)}),
    )


async def test_background_hand_off_answers_before_the_data_plane_and_completes_two_phase(
    start_configured_exec_server: Any, literals: Any
) -> None:
    async with start_configured_exec_server(BACKGROUND) as server:
        fake = server.dataplane
        fake.hold = asyncio.Event()  # the data plane does not answer until told to
        lp_id = await server.register_launch_plan()
        created = await server.admin.CreateExecution(_create_request(lp_id, literals, "bg"))
        recorded = await server.admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=created.id))
        assert recorded.closure.phase == WF.UNDEFINED  # answered while the hand-off waits on the data plane
        await asyncio.wait_for(fake.create_entered.wait(), 30)
        fake.hold.set()
        await asyncio.wait_for(server.deps.background.drain(), 30)
        assert [(r.id.name, r.hold) for r in fake.created] == [("bg", True)]
        assert [r.id.name for r in fake.started] == ["bg"]
        queued = await server.admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=created.id))
        assert queued.closure.phase == WF.QUEUED
        server.skip_ahead()
        assert await server.managers.handoffs.repair_once() == 0  # handed off once, nothing left to repair


async def test_terminate_before_the_background_hand_off_lets_nothing_start(
    start_configured_exec_server: Any, literals: Any
) -> None:
    """A terminate that lands between the commit and the (background) data-plane create: the create goes out held,
    the conditional commit loses to the terminate and the held run is aborted; StartExecution is never sent."""
    async with start_configured_exec_server(BACKGROUND) as server:
        fake = server.dataplane
        fake.hold = asyncio.Event()
        lp_id = await server.register_launch_plan()
        created = await server.admin.CreateExecution(_create_request(lp_id, literals, "bg-stop"))
        await asyncio.wait_for(fake.create_entered.wait(), 30)
        await server.admin.TerminateExecution(execution_pb2.ExecutionTerminateRequest(id=created.id, cause="no"))
        fake.hold.set()
        await asyncio.wait_for(server.deps.background.drain(), 30)
        assert [(r.id.name, r.hold) for r in fake.created] == [("bg-stop", True)] and fake.started == []
        assert [(r.id.name, r.cause) for r in fake.aborted] == [("bg-stop", "no")]
        ended = await server.admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=created.id))
        assert ended.closure.phase == WF.ABORTED


async def test_background_hand_off_that_fails_is_repaired(start_configured_exec_server: Any, literals: Any) -> None:
    async with start_configured_exec_server(BACKGROUND) as server:
        fake = server.dataplane
        fake.failing = True
        lp_id = await server.register_launch_plan()
        created = await server.admin.CreateExecution(_create_request(lp_id, literals, "bg-late"))
        await asyncio.wait_for(server.deps.background.drain(), 30)
        assert fake.created == []
        fake.failing = False
        server.skip_ahead()
        assert await server.managers.handoffs.repair_once() == 1
        assert [r.id.name for r in fake.created] == ["bg-late"] and [r.id.name for r in fake.started] == ["bg-late"]
        queued = await server.admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=created.id))
        assert queued.closure.phase == WF.QUEUED
