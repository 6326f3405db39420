"""Fixtures for the executions/events tests: a fake data plane and an admin wired to it.

The fake data plane is a real in-process gRPC server implementing aloft.dataplane.v1 DataPlaneService: it
records the requests it gets and can be told to fail (UNAVAILABLE) to exercise the hand-off repair path. It serves
the batch RPCs (CreateExecutions, StartExecutions) by answering each request as its single-request method would,
unless told not to (``batches = False``: UNIMPLEMENTED, as a data plane predating them).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from aloft.dataplane.v1 import dataplane_pb2, dataplane_pb2_grpc
from flyteidl.admin import execution_pb2, launch_plan_pb2, workflow_pb2
from flyteidl.core import identifier_pb2, interface_pb2, literals_pb2, types_pb2
from flyteidl.core import workflow_pb2 as core_wf
from flyteidl.service import admin_pb2_grpc

from aloft_admin.config import AdminConfig
from aloft_admin.deps import AdminDeps
from aloft_admin.managers.registry import Managers, build_managers
from aloft_admin.repositories.models.executions import ExecutionModel
from aloft_admin.server import build_deps, build_service, run_migrations
from aloft_service.runtime import ListenConfig, RunningService, start_service
from aloft_testing.registration import register_task

PROJECT, DOMAIN = "flytesnacks", "development"
CLUSTER = "east"
INT = types_pb2.LiteralType(simple=types_pb2.INTEGER)
STR = types_pb2.LiteralType(simple=types_pb2.STRING)


@dataclass
class FakeDataPlane(dataplane_pb2_grpc.DataPlaneServiceServicer):
    created: list[dataplane_pb2.CreateExecutionRequest] = field(default_factory=list)
    aborted: list[dataplane_pb2.AbortExecutionRequest] = field(default_factory=list)
    started: list[dataplane_pb2.StartExecutionRequest] = field(default_factory=list)
    failing: bool = False
    # Answer UNAVAILABLE to StartExecution only (the second phase of the hand-off does not get through).
    start_failing: bool = False
    # Answer UNAVAILABLE for these execution names only (rows that keep failing).
    unavailable_for: set[str] = field(default_factory=set)
    # Refuse every CreateExecution with this code (a permanent refusal).
    refuse: grpc.StatusCode | None = None
    # Answer every AbortExecution with this code (e.g. NOT_FOUND: the data plane does not hold the execution).
    refuse_abort: grpc.StatusCode | None = None
    # When set, CreateExecution waits for it after ``create_entered`` is set (a hand-off in flight).
    hold: asyncio.Event | None = None
    create_entered: asyncio.Event = field(default_factory=asyncio.Event)
    # False: the batch RPCs answer UNIMPLEMENTED. ``batch_sizes``: how many requests each batch call carried.
    batches: bool = True
    batch_sizes: list[int] = field(default_factory=list)
    port: int = 0

    async def CreateExecution(self, request: Any, context: Any) -> dataplane_pb2.CreateExecutionResponse:
        if self.failing or request.id.name in self.unavailable_for:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "fake data plane told to fail")
        if self.refuse is not None:
            await context.abort(self.refuse, "workflow closure is not valid for this data plane")
        self.create_entered.set()
        if self.hold is not None:
            await self.hold.wait()
        already = any(r.id == request.id for r in self.created)
        self.created.append(request)
        return dataplane_pb2.CreateExecutionResponse(shard_key="shard-0", already_existed=already)

    async def StartExecution(self, request: Any, context: Any) -> dataplane_pb2.StartExecutionResponse:
        if self.failing or self.start_failing:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "fake data plane told to fail")
        self.started.append(request)
        return dataplane_pb2.StartExecutionResponse()

    async def CreateExecutions(self, request: Any, context: Any) -> dataplane_pb2.CreateExecutionsResponse:
        outcomes = await self._each(context, self.CreateExecution, request.requests)
        results = [dataplane_pb2.CreateExecutionResult(status=s, response=r) for s, r in outcomes]
        return dataplane_pb2.CreateExecutionsResponse(results=results)

    async def StartExecutions(self, request: Any, context: Any) -> dataplane_pb2.StartExecutionsResponse:
        outcomes = await self._each(context, self.StartExecution, request.requests)
        return dataplane_pb2.StartExecutionsResponse(
            results=[dataplane_pb2.StartExecutionResult(status=s) for s, _ in outcomes]
        )

    async def _each(self, context: Any, method: Any, requests: Any) -> list[tuple[dataplane_pb2.BatchItemStatus, Any]]:
        if not self.batches:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
        if self.failing:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "fake data plane told to fail")
        self.batch_sizes.append(len(requests))
        return list(await asyncio.gather(*(_answer(method, r) for r in requests)))

    async def AbortExecution(self, request: Any, context: Any) -> dataplane_pb2.AbortExecutionResponse:
        if self.failing:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "fake data plane told to fail")
        if self.refuse_abort is not None:
            await context.abort(self.refuse_abort, "no such execution on this data plane")
        self.aborted.append(request)
        return dataplane_pb2.AbortExecutionResponse()


class _Refused(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code, self.details = code, details


class _ItemContext:
    """What a single-request method sees as its context inside a batch: ``abort`` fails only that request."""

    async def abort(self, code: grpc.StatusCode, details: str = "") -> None:
        raise _Refused(code, details)


async def _answer(method: Any, request: Any) -> tuple[dataplane_pb2.BatchItemStatus, Any]:
    try:
        return dataplane_pb2.BatchItemStatus(), await method(request, _ItemContext())
    except _Refused as refused:
        return dataplane_pb2.BatchItemStatus(code=refused.code.value[0], message=refused.details), None


@pytest.fixture
async def fake_dataplane() -> AsyncIterator[FakeDataPlane]:
    fake = FakeDataPlane()
    server = grpc.aio.server()
    dataplane_pb2_grpc.add_DataPlaneServiceServicer_to_server(fake, server)
    fake.port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield fake
    finally:
        await server.stop(grace=None)


@dataclass
class SkewedClock:
    """Admin's clock in these tests: real time plus an offset that ``ExecHandle.skip_ahead`` moves forward."""

    offset: timedelta = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class ExecHandle:
    deps: AdminDeps
    # Managers over the same deps as the server's (they keep no state of their own that tests depend on).
    managers: Managers
    running: RunningService
    channel: grpc.aio.Channel
    admin: Any
    dataplane: FakeDataPlane
    names: Any = field(default_factory=lambda: (f"e{i}" for i in itertools.count()))
    clock: SkewedClock = field(default_factory=lambda: SkewedClock())

    def skip_ahead(self, delta: timedelta = timedelta(hours=1)) -> None:
        """Move admin's clock forward (past any repair backoff); real time keeps running underneath."""
        self.clock.offset += delta

    def wid(self, name: str) -> identifier_pb2.WorkflowExecutionIdentifier:
        return identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name=name)

    async def seed_execution(self, name: str, phase: str = "QUEUED", cluster: str = CLUSTER) -> None:
        """An execution row as CreateExecution leaves it after a hand-off (for event tests independent of LPs)."""
        now = datetime.now(UTC)
        closure = execution_pb2.ExecutionClosure()
        async with self.deps.db.session() as session:
            session.add(
                ExecutionModel(
                    project=PROJECT,
                    domain=DOMAIN,
                    name=name,
                    phase=phase,
                    cluster=cluster,
                    spec=execution_pb2.ExecutionSpec().SerializeToString(),
                    closure=closure.SerializeToString(),
                    handoff="done",
                    created_at=now,
                    updated_at=now,
                    execution_created_at=now,
                    execution_updated_at=now,
                )
            )

    async def register_launch_plan(
        self, name: str = "wf", fixed: dict[str, int] | None = None, default_b: str = "hello"
    ) -> identifier_pb2.Identifier:
        """Task + workflow (inputs a:int required, b:str defaulted, c:int defaulted or fixed) + launch plan."""
        task_id = _id(identifier_pb2.TASK, f"{name}.t")
        wf_id = _id(identifier_pb2.WORKFLOW, name)
        lp_id = _id(identifier_pb2.LAUNCH_PLAN, name)
        interface = _interface({"a": INT, "b": STR, "c": INT}, {"o0": INT})
        await register_task(self.admin, task_id, interface)
        node = core_wf.Node(
            id="n0",
            inputs=[_bind("a", "a"), _bind("b", "b"), _bind("c", "c")],
            task_node=core_wf.TaskNode(reference_id=task_id),
        )
        wf = core_wf.WorkflowTemplate(
            id=wf_id,
            interface=interface,
            nodes=[node],
            outputs=[
                literals_pb2.Binding(
                    var="o0",
                    binding=literals_pb2.BindingData(promise=types_pb2.OutputReference(node_id="n0", var="o0")),
                )
            ],
        )
        await self.admin.CreateWorkflow(
            workflow_pb2.WorkflowCreateRequest(id=wf_id, spec=workflow_pb2.WorkflowSpec(template=wf))
        )
        parameters = {
            "a": interface_pb2.Parameter(var=interface_pb2.Variable(type=INT), required=True),
            "b": interface_pb2.Parameter(var=interface_pb2.Variable(type=STR), default=str_literal(default_b)),
            "c": interface_pb2.Parameter(var=interface_pb2.Variable(type=INT), default=int_literal(0)),
        }
        fixed_inputs = literals_pb2.LiteralMap(literals={k: int_literal(v) for k, v in (fixed or {}).items()})
        for key in fixed or {}:
            parameters.pop(key, None)
        spec = launch_plan_pb2.LaunchPlanSpec(
            workflow_id=wf_id,
            default_inputs=interface_pb2.ParameterMap(parameters=parameters),
            fixed_inputs=fixed_inputs,
        )
        await self.admin.CreateLaunchPlan(launch_plan_pb2.LaunchPlanCreateRequest(id=lp_id, spec=spec))
        return lp_id


def _id(resource_type: int, name: str) -> identifier_pb2.Identifier:
    return identifier_pb2.Identifier(
        resource_type=resource_type,  # type: ignore[arg-type]
        project=PROJECT,
        domain=DOMAIN,
        name=name,
        version="v1",
    )


def _interface(inputs: dict[str, Any], outputs: dict[str, Any]) -> interface_pb2.TypedInterface:
    return interface_pb2.TypedInterface(
        inputs=interface_pb2.VariableMap(variables={k: interface_pb2.Variable(type=v) for k, v in inputs.items()}),
        outputs=interface_pb2.VariableMap(variables={k: interface_pb2.Variable(type=v) for k, v in outputs.items()}),
    )


def _bind(var: str, input_name: str) -> literals_pb2.Binding:
    return literals_pb2.Binding(
        var=var,
        binding=literals_pb2.BindingData(promise=types_pb2.OutputReference(node_id="start-node", var=input_name)),
    )


def int_literal(value: int) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value)))


def str_literal(value: str) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value=value)))


@pytest.fixture
def literals() -> Any:
    """``literals.int_(3)`` / ``literals.str_("x")`` for test modules (they cannot import this conftest)."""

    class Literals:
        int_ = staticmethod(int_literal)
        str_ = staticmethod(str_literal)

    return Literals()


def exec_config(
    tmp_path: Path, db_url: str, dataplane_port: int, sections: dict[str, Any] | None = None, **admin: Any
) -> AdminConfig:
    return AdminConfig.model_validate(
        {
            **(sections or {}),
            "stack": {"dataDir": str(tmp_path / "data")},
            "database": {"url": db_url},
            "admin": {
                "grpcPort": 0,
                "httpPort": 0,
                # The background repair loop stays out of the way; tests call repair_once themselves.
                "handoffRepairInterval": "1h",
                # CreateExecution answers after the hand-off, so tests see the data plane's side at once;
                # test_dataplane.py's background tests turn it on (admin's default) with sections={"admin": ...}.
                "handoffInBackground": False,
                "dataPlanes": [
                    {"name": "west", "endpoint": "127.0.0.1:1", "labels": ["gpu"], "enabled": False},
                    {"name": CLUSTER, "endpoint": f"127.0.0.1:{dataplane_port}", "labels": ["general"]},
                ],
                **(sections or {}).get("admin", {}),
                **admin,
            },
        }
    )


@asynccontextmanager
async def running_exec_server(
    tmp_path: Path, db_url: str, dataplane: FakeDataPlane, sections: dict[str, Any] | None = None
) -> AsyncIterator[ExecHandle]:
    config = exec_config(tmp_path, db_url, dataplane.port, sections)
    run_migrations(config)
    deps = build_deps(config)
    deps.clock = clock = SkewedClock()  # before the managers are built: they keep the clock they are given
    running = await start_service(build_service(deps), ListenConfig(host="127.0.0.1"))
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.grpc_port}")
    try:
        yield ExecHandle(
            deps=deps,
            managers=build_managers(deps),
            running=running,
            channel=channel,
            admin=admin_pb2_grpc.AdminServiceStub(channel),
            dataplane=dataplane,
            clock=clock,
        )
    finally:
        await channel.close()
        await running.stop(grace=0.5)


@pytest.fixture
async def exec_server(tmp_path: Path, db_url: str, fake_dataplane: FakeDataPlane) -> AsyncIterator[ExecHandle]:
    async with running_exec_server(tmp_path, db_url, fake_dataplane) as handle:
        yield handle


@pytest.fixture
def start_exec_server(
    tmp_path: Path, fake_dataplane: FakeDataPlane
) -> Callable[[str], AbstractAsyncContextManager[ExecHandle]]:
    """For tests that bring their own database: ``async with start_exec_server(url) as server``."""
    return lambda db_url: running_exec_server(tmp_path, db_url, fake_dataplane)


@pytest.fixture
def start_configured_exec_server(
    tmp_path: Path, db_url: str, fake_dataplane: FakeDataPlane
) -> Callable[[dict[str, Any]], AbstractAsyncContextManager[ExecHandle]]:
    """``async with start_configured_exec_server({"cloudEvents": {...}}) as server``: more config sections."""
    return lambda sections: running_exec_server(tmp_path, db_url, fake_dataplane, sections)
