"""A real admin process for the scheduler to drive, a launch plan registry helper and a controllable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from flyteidl.admin import common_pb2, execution_pb2, launch_plan_pb2, schedule_pb2, workflow_pb2
from flyteidl.core import identifier_pb2, interface_pb2, literals_pb2, types_pb2
from flyteidl.core import workflow_pb2 as core_wf
from flyteidl.service import admin_pb2_grpc

from aloft_scheduler.admin_client import AdminClient
from aloft_scheduler.config import SchedulerSection
from aloft_scheduler.scheduler import Scheduler
from aloft_testing.processes import run_service
from aloft_testing.registration import register_task
from aloft_testing.servers import free_port

PROJECT, DOMAIN = "flytesnacks", "development"
DATETIME = types_pb2.LiteralType(simple=types_pb2.DATETIME)


class FakeClock:
    """Now is whatever the test says; it only moves when the test moves it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def start_after(self, launch_plan: launch_plan_pb2.LaunchPlan) -> datetime:
        """Set now to the launch plan's activation (admin's real clock: no tick can fall before it) and return it."""
        self.now = launch_plan.closure.updated_at.ToDatetime(tzinfo=UTC)
        return self.now

    def __call__(self) -> datetime:
        return self.now

    def advance_to(self, when: datetime) -> None:
        assert when >= self.now
        self.now = when


@pytest.fixture(scope="module")
def admin_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """admin as its own process (console script, SQLite under a temp dir); no data plane, so executions stay queued."""
    root = tmp_path_factory.mktemp("admin")
    grpc_port = free_port()
    config = {
        "stack": {"dataDir": str(root / "data")},
        "admin": {"grpcPort": grpc_port, "httpPort": free_port(), "dataPlanes": [], "handoffRepairInterval": "1h"},
    }
    with run_service("admin", config, root, grpc_port) as endpoint:
        yield endpoint


@dataclass
class Registry:
    """Registers scheduled launch plans and reads back what the scheduler created, over admin's public API."""

    admin: Any
    created: list[identifier_pb2.Identifier] = field(default_factory=list)

    async def scheduled_launch_plan(self, name: str, schedule: schedule_pb2.Schedule, version: str = "v1") -> Any:
        """A one-task workflow taking ``kickoff_time: datetime`` and an ACTIVE launch plan with ``schedule``."""
        task_id = _id(identifier_pb2.TASK, f"{name}.t", version)
        wf_id = _id(identifier_pb2.WORKFLOW, name, version)
        lp_id = _id(identifier_pb2.LAUNCH_PLAN, name, version)
        interface = interface_pb2.TypedInterface(
            inputs=interface_pb2.VariableMap(variables={"kickoff_time": interface_pb2.Variable(type=DATETIME)}),
            outputs=interface_pb2.VariableMap(),
        )
        await register_task(self.admin, task_id, interface)
        binding = literals_pb2.Binding(
            var="kickoff_time",
            binding=literals_pb2.BindingData(
                promise=types_pb2.OutputReference(node_id="start-node", var="kickoff_time")
            ),
        )
        workflow = core_wf.WorkflowTemplate(
            id=wf_id,
            interface=interface,
            nodes=[core_wf.Node(id="n0", inputs=[binding], task_node=core_wf.TaskNode(reference_id=task_id))],
        )
        await self.admin.CreateWorkflow(
            workflow_pb2.WorkflowCreateRequest(id=wf_id, spec=workflow_pb2.WorkflowSpec(template=workflow))
        )
        schedule.kickoff_time_input_arg = "kickoff_time"
        spec = launch_plan_pb2.LaunchPlanSpec(
            workflow_id=wf_id,
            entity_metadata=launch_plan_pb2.LaunchPlanMetadata(schedule=schedule),
            default_inputs=interface_pb2.ParameterMap(
                parameters={
                    "kickoff_time": interface_pb2.Parameter(var=interface_pb2.Variable(type=DATETIME), required=True)
                }
            ),
        )
        await self.admin.CreateLaunchPlan(launch_plan_pb2.LaunchPlanCreateRequest(id=lp_id, spec=spec))
        await self.set_state(lp_id, launch_plan_pb2.ACTIVE)
        self.created.append(lp_id)
        return await self.admin.GetLaunchPlan(common_pb2.ObjectGetRequest(id=lp_id))

    async def set_state(self, lp_id: identifier_pb2.Identifier, state: int) -> None:
        await self.admin.UpdateLaunchPlan(launch_plan_pb2.LaunchPlanUpdateRequest(id=lp_id, state=state))  # type: ignore[arg-type]

    async def execution_names(self, launch_plan_name: str) -> set[str]:
        """Names of every execution of the named launch plan (any version)."""
        names: set[str] = set()
        token = ""
        while True:
            page = await self.admin.ListExecutions(
                common_pb2.ResourceListRequest(
                    id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN),
                    limit=100,
                    token=token,
                    filters=f"eq(launch_plan.name,{launch_plan_name})",
                )
            )
            names |= {e.id.name for e in page.executions}
            if not page.token:
                return names
            token = page.token

    async def execution(self, name: str) -> execution_pb2.Execution:
        wid = identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name=name)
        return await self.admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=wid))  # type: ignore[no-any-return]

    async def inputs(self, name: str) -> literals_pb2.LiteralMap:
        wid = identifier_pb2.WorkflowExecutionIdentifier(project=PROJECT, domain=DOMAIN, name=name)
        data = await self.admin.GetExecutionData(execution_pb2.WorkflowExecutionGetDataRequest(id=wid))
        return data.full_inputs  # type: ignore[no-any-return]


def _id(resource_type: int, name: str, version: str) -> identifier_pb2.Identifier:
    return identifier_pb2.Identifier(
        resource_type=resource_type,  # type: ignore[arg-type]
        project=PROJECT,
        domain=DOMAIN,
        name=name,
        version=version,
    )


@pytest.fixture
async def registry(admin_endpoint: str) -> AsyncIterator[Registry]:
    async with grpc.aio.insecure_channel(admin_endpoint) as channel:
        registry = Registry(admin_pb2_grpc.AdminServiceStub(channel))
        yield registry
        for lp_id in registry.created:  # admin is shared by the module: the next test starts with no schedules
            await registry.set_state(lp_id, launch_plan_pb2.INACTIVE)


@pytest.fixture
def clock() -> FakeClock:
    # Activation times are admin's real clock: tests move the fake clock to just after them (``start_after``).
    return FakeClock(datetime.now(UTC))


@dataclass
class SchedulerFactory:
    endpoint: str
    clock: FakeClock
    clients: list[AdminClient]

    def __call__(self, **settings: Any) -> Scheduler:
        """A scheduler replica (its own admin connection), e.g. ``new(catchUpLimit=3)``."""
        client = AdminClient(self.endpoint)
        self.clients.append(client)
        return Scheduler(client, SchedulerSection(**{"resyncInterval": "0s", **settings}), self.clock)


@pytest.fixture
async def new_scheduler(admin_endpoint: str, clock: FakeClock) -> AsyncIterator[SchedulerFactory]:
    factory = SchedulerFactory(admin_endpoint, clock, [])
    try:
        yield factory
    finally:
        for client in factory.clients:
            await client.close()
