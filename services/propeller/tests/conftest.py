"""Fixtures for the engine tests: real components wired together.

- ``ScriptedPlugin``: a real Plugin that "runs" the flytekit fixture tasks as Python functions, replaying scripted
  failures per attempt. It keeps per-attempt state in marker files (like the local-process plugin adopts an
  attempt by unique_id) and logs every attempt it *starts* to ``starts.log``: the side effects crash tests count.
- ``FakeAdmin``: a real in-process gRPC AdminService servicer recording workflow/node/task events; identical
  replays get ALREADY_EXISTS and, once told to, it refuses events as already-terminal with EventFailureReason.
- ``stack``: FakeAdmin + propeller's real service (DataPlaneService on a free port, controller running, SQLite or
  PostgreSQL workflow store, local blob store) and helpers to create executions and wait for them.
Closures come from the protobufs serialized by real flytekit for the compiler's tests
(libs/aloft-compiler/tests/fixtures), compiled with aloft_compiler.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import msgpack
import pytest
from aloft.dataplane.v1 import dataplane_pb2, dataplane_pb2_grpc
from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.admin import execution_pb2 as execution_admin_pb2
from flyteidl.admin import launch_plan_pb2, node_execution_pb2, task_pb2, workflow_pb2
from flyteidl.admin import signal_pb2 as signal_admin_pb2
from flyteidl.core import compiler_pb2, execution_pb2, identifier_pb2, interface_pb2, literals_pb2, tasks_pb2, types_pb2
from flyteidl.core import workflow_pb2 as core_workflow_pb2
from flyteidl.event import event_pb2
from flyteidl.service import admin_pb2, admin_pb2_grpc, signal_pb2
from flyteidl.service import signal_pb2_grpc as signal_grpc

from aloft_compiler import LaunchPlanInterface, compile_workflow, launch_plan_expected_inputs
from aloft_db import DatabaseConfig
from aloft_db.migrations import migrate
from aloft_propeller.config import PropellerConfig, PropellerSection
from aloft_propeller.plugins.base import (
    ErrorKind,
    ExecutionError,
    Phase,
    PhaseInfo,
    PluginAnswer,
    TaskExecutionContext,
)
from aloft_propeller.server import MIGRATIONS, VERSION_TABLE, build_deps, build_service, run_migrations
from aloft_service.errors import FailedPrecondition
from aloft_service.runtime import ListenConfig, RunningService, Service, StackConfig, start_service
from aloft_storage import BlobStore, StorageConfig, create_blob_store
from aloft_testing.databases import DbTemplate
from aloft_testing.fixtures import database_url

pytest_plugins = ["aloft_testing.fixtures"]

# Every round of these tests checks its incremental state encoding against a whole one (controller/round.py): a
# node state changed without ``WorkflowState.node`` would be lost from the persisted state.
os.environ.setdefault("ALOFT_PROPELLER_CHECK_ENCODING", "1")

FIXTURES = Path(__file__).resolve().parents[3] / "libs" / "aloft-compiler" / "tests" / "fixtures"

# ---- literals -------------------------------------------------------------------------------------------------


def to_literal(value: Any) -> literals_pb2.Literal:
    if isinstance(value, literals_pb2.Literal):
        return value
    if isinstance(value, bool):
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(boolean=value)))
    if isinstance(value, int):
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value)))
    if isinstance(value, float):
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(float_value=value)))
    if isinstance(value, str):
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value=value)))
    if isinstance(value, list):
        return literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=[to_literal(v) for v in value]))
    if isinstance(value, dict):
        return literals_pb2.Literal(map=to_literal_map(value))
    raise TypeError(f"no literal for {value!r}")


def to_literal_map(values: dict[str, Any]) -> literals_pb2.LiteralMap:
    result = literals_pb2.LiteralMap()
    for key, value in values.items():
        result.literals[key].CopyFrom(to_literal(value))
    return result


def msgpack_literal(value: Any) -> literals_pb2.Literal:
    binary = literals_pb2.Binary(value=msgpack.packb(value), tag="msgpack")
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(binary=binary))


def from_literal(literal: literals_pb2.Literal) -> Any:
    kind = literal.WhichOneof("value")
    if kind == "collection":
        return [from_literal(item) for item in literal.collection.literals]
    if kind == "map":
        return {key: from_literal(item) for key, item in literal.map.literals.items()}
    scalar = literal.scalar
    scalar_kind = scalar.WhichOneof("value")
    if scalar_kind == "primitive":
        return getattr(scalar.primitive, scalar.primitive.WhichOneof("value"))
    if scalar_kind == "binary":
        return msgpack.unpackb(scalar.binary.value)
    if scalar_kind == "union":
        return from_literal(scalar.union.value)
    if scalar_kind == "none_type":
        return None
    raise TypeError(f"cannot convert {literal}")


def from_literal_map(literal_map: literals_pb2.LiteralMap) -> dict[str, Any]:
    return {key: from_literal(value) for key, value in literal_map.literals.items()}


# ---- closures -------------------------------------------------------------------------------------------------


def load_closure(name: str) -> compiler_pb2.CompiledWorkflowClosure:
    directory = FIXTURES / name
    manifest = json.loads((directory / "manifest.json").read_text())
    primary = workflow_pb2.WorkflowSpec.FromString((directory / manifest["primary"]).read_bytes())
    tasks = [task_pb2.TaskSpec.FromString((directory / f).read_bytes()).template for f in manifest["tasks"]]
    return compile_workflow(primary.template, list(primary.sub_workflows), tasks, _launch_plans(directory, manifest))


def _launch_plans(directory: Path, manifest: dict[str, Any]) -> list[LaunchPlanInterface]:
    """The interfaces of the launch plans a scenario calls (as admin derives them at registration)."""
    workflows = [workflow_pb2.WorkflowSpec.FromString((directory / f).read_bytes()) for f in manifest["workflows"]]
    templates = {spec.template.id.name: spec.template for spec in workflows}
    result = []
    for file in manifest.get("launch_plans", []):
        lp = launch_plan_pb2.LaunchPlan.FromString((directory / file).read_bytes())
        workflow = templates[lp.spec.workflow_id.name]
        expected = launch_plan_expected_inputs(workflow.interface.inputs, lp.spec.default_inputs, lp.spec.fixed_inputs)
        lp.closure.expected_inputs.CopyFrom(expected)
        lp.closure.expected_outputs.CopyFrom(workflow.interface.outputs)
        result.append(LaunchPlanInterface.from_launch_plan(lp))
    return result


# ---- the scripted plugin --------------------------------------------------------------------------------------


def _raise_if_positive(x: int) -> int:
    if x > 0:
        raise ValueError(x)
    return x


FUNCTIONS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "add_one": lambda i: {"o0": i["x"] + 1},
    "double": lambda i: {"o0": i["x"] * 2},
    "square": lambda i: {"o0": i["x"] * i["x"]},
    "to_str": lambda i: {"o0": str(i["x"])},
    "use_x": lambda i: {"o0": i["x"]},
    "make_point": lambda i: {"o0": msgpack_literal({"x": i["x"], "y": 1.0, "label": "p"})},
    "use_point": lambda i: {"o0": f"{i['p']['label']}({i['p']['x']},{i['p']['y']})"},
    "fail_loud": lambda i: {"o0": _raise_if_positive(i["x"])},
    "cleanup": lambda i: {},
    "noop": lambda i: {},
    "sum_list": lambda i: {"o0": sum(i["xs"])},
}


@dataclass(frozen=True)
class Scripted:
    """What one attempt of a task does: run for ``duration`` seconds, then succeed or fail with ``error``."""

    duration: float = 0.0
    error: ExecutionError | None = None
    retryable: bool = True


@dataclass
class ScriptedPlugin:
    workdir: Path
    script: dict[tuple[str, int], Scripted] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)
    active: set[str] = field(default_factory=set)
    max_active: int = 0

    id: str = "scripted"
    task_types: tuple[str, ...] = ("python-task", "container", "raw-container")

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)

    def starts(self) -> list[str]:
        log = self.workdir / "starts.log"
        return log.read_text().split() if log.exists() else []

    def aborted(self) -> list[str]:
        return sorted(p.stem for p in self.workdir.glob("*.aborted"))

    def _started_at(self, ctx: TaskExecutionContext) -> float:
        marker = self.workdir / f"{ctx.unique_id}.started"
        if marker.exists():
            return float(marker.read_text())  # adopt the attempt that is already running
        now = time.time()
        marker.write_text(str(now))
        self.active.add(ctx.unique_id)
        self.max_active = max(self.max_active, len(self.active))
        with (self.workdir / "starts.log").open("a") as log:
            log.write(ctx.unique_id + "\n")
        return now

    async def handle(self, ctx: TaskExecutionContext) -> PluginAnswer:
        name = ctx.template.id.name.rsplit(".", 1)[-1]
        started = self._started_at(ctx)
        if (self.workdir / f"{ctx.unique_id}.aborted").exists():
            error = ExecutionError("Aborted", "attempt was aborted", ErrorKind.SYSTEM)
            return PluginAnswer(PhaseInfo(Phase.PERMANENT_FAILURE, error=error))
        step = self.script.get((name, ctx.attempt), Scripted(duration=self.durations.get(name, 0.0)))
        if time.time() - started < step.duration:
            return PluginAnswer(PhaseInfo(Phase.RUNNING, version=0), plugin_state=b"running")
        self.active.discard(ctx.unique_id)
        if step.error is not None:
            phase = Phase.RETRYABLE_FAILURE if step.retryable else Phase.PERMANENT_FAILURE
            return PluginAnswer(PhaseInfo(phase, error=step.error))
        inputs = from_literal_map(await ctx.blobs.read_proto(ctx.inputs_uri, literals_pb2.LiteralMap))
        try:
            outputs = FUNCTIONS[name](inputs)
        except ValueError as exc:
            error = ExecutionError("USER:ValueError", f"task raised {exc!r}", ErrorKind.USER)
            return PluginAnswer(PhaseInfo(Phase.PERMANENT_FAILURE, error=error))
        await ctx.blobs.write_proto(f"{ctx.output_prefix}/outputs.pb", to_literal_map(outputs))
        return PluginAnswer(PhaseInfo(Phase.SUCCESS, version=1))

    async def abort(self, ctx: TaskExecutionContext, reason: str) -> None:
        self.active.discard(ctx.unique_id)
        (self.workdir / f"{ctx.unique_id}.aborted").write_text(reason)

    async def finalize(self, ctx: TaskExecutionContext) -> None:
        return None

    def for_task_type(self, task_type: str) -> ScriptedPlugin:
        if task_type not in self.task_types:
            raise LookupError(f"unknown task type {task_type}")
        return self


# ---- the fake admin -------------------------------------------------------------------------------------------


def _terminal_refusal(message: str) -> FailedPrecondition:
    reason = admin_event_pb2.EventFailureReason(
        already_in_terminal_state=admin_event_pb2.EventErrorAlreadyInTerminalState(current_phase="ABORTED")
    )
    return FailedPrecondition(message, details=reason)


class FakeAdmin(admin_pb2_grpc.AdminServiceServicer):
    def __init__(self) -> None:
        self.workflow_events: list[event_pb2.WorkflowExecutionEvent] = []
        self.node_events: list[event_pb2.NodeExecutionEvent] = []
        self.task_events: list[event_pb2.TaskExecutionEvent] = []
        self.replays = 0
        self.refuse_workflows_as_terminal = False
        self.unavailable_calls = 0  # answer this many next calls with UNAVAILABLE (admin restarting)
        self.refused_unavailable = 0
        self.event_delay = 0.0  # seconds each event takes to record (a slow or loaded admin)
        self._seen: set[bytes] = set()
        # Child executions (launch-plan nodes): create requests, scripted results, terminations.
        self.children: dict[str, execution_admin_pb2.ExecutionCreateRequest] = {}
        self.child_results: dict[str, execution_admin_pb2.ExecutionClosure] = {}
        self.terminated: dict[str, str] = {}
        self.lost_create_responses = 0  # record the child, then answer UNAVAILABLE (a reply lost on the way)
        self.signals = FakeSignals()
        self.blobs: BlobStore | None = None  # set to serve GetNodeExecutionData (recovery from admin)

    async def _accept(self, event: Any) -> None:
        if self.event_delay:
            await asyncio.sleep(self.event_delay)
        self._dedup(event)

    def _dedup(self, event: Any) -> None:
        if self.unavailable_calls > 0:
            self.unavailable_calls -= 1
            self.refused_unavailable += 1
            from aloft_service.errors import Unavailable

            raise Unavailable("admin is restarting")
        raw = event.SerializeToString(deterministic=True)
        if raw in self._seen:
            self.replays += 1
            from aloft_service.errors import AlreadyExists

            raise AlreadyExists("event already recorded")
        self._seen.add(raw)

    async def CreateWorkflowEvent(self, request: Any, context: Any) -> Any:
        if self.refuse_workflows_as_terminal and request.event.phase != execution_pb2.WorkflowExecution.ABORTED:
            raise _terminal_refusal("execution is already terminal")
        await self._accept(request.event)
        self.workflow_events.append(request.event)
        return admin_event_pb2.WorkflowExecutionEventResponse()

    async def CreateNodeEvent(self, request: Any, context: Any) -> Any:
        await self._accept(request.event)
        self.node_events.append(request.event)
        return admin_event_pb2.NodeExecutionEventResponse()

    async def CreateTaskEvent(self, request: Any, context: Any) -> Any:
        await self._accept(request.event)
        self.task_events.append(request.event)
        return admin_event_pb2.TaskExecutionEventResponse()

    async def CreateExecution(self, request: Any, context: Any) -> Any:
        from aloft_service.errors import AlreadyExists, NotFound

        parent = request.spec.metadata.parent_node_execution
        if not any(e.id == parent for e in self.node_events):  # admin needs the parent node execution first
            raise NotFound(f"node execution {parent.node_id} not found")
        if request.name in self.children:
            raise AlreadyExists(f"execution {request.name} already exists")
        self.children[request.name] = request
        if self.lost_create_responses > 0:
            self.lost_create_responses -= 1
            from aloft_service.errors import Unavailable

            raise Unavailable("connection reset after the child was created")
        return execution_admin_pb2.ExecutionCreateResponse()

    async def GetExecution(self, request: Any, context: Any) -> Any:
        from aloft_service.errors import NotFound

        if request.id.name not in self.children:
            raise NotFound(f"execution {request.id.name} not found")
        running = execution_admin_pb2.ExecutionClosure(phase=execution_pb2.WorkflowExecution.RUNNING)
        closure = self.child_results.get(request.id.name, running)
        return execution_admin_pb2.Execution(id=request.id, closure=closure)

    async def TerminateExecution(self, request: Any, context: Any) -> Any:
        self.terminated[request.id.name] = request.cause
        self.child_results[request.id.name] = execution_admin_pb2.ExecutionClosure(
            phase=execution_pb2.WorkflowExecution.ABORTED
        )
        return execution_admin_pb2.ExecutionTerminateResponse()

    def _node_executions(self, name: str) -> dict[str, event_pb2.NodeExecutionEvent]:
        """The latest event of each node of execution ``name`` (what admin's node execution rows hold)."""
        latest: dict[str, event_pb2.NodeExecutionEvent] = {}
        for event in self.node_events:
            if event.id.execution_id.name == name:
                row = event_pb2.NodeExecutionEvent()
                row.CopyFrom(event)
                previous = latest.get(event.id.node_id)
                row.output_uri = event.output_uri or (previous.output_uri if previous is not None else "")
                latest[event.id.node_id] = row
        return latest

    async def ListNodeExecutions(self, request: Any, context: Any) -> Any:
        from aloft_service.errors import NotFound

        nodes = self._node_executions(request.workflow_execution_id.name)
        if not nodes:
            raise NotFound(f"execution {request.workflow_execution_id.name} not found")
        listed = [
            node_execution_pb2.NodeExecution(
                id=event.id,
                closure=node_execution_pb2.NodeExecutionClosure(phase=event.phase, output_uri=event.output_uri),
                metadata=node_execution_pb2.NodeExecutionMetaData(is_parent_node=event.is_parent),
            )
            for event in nodes.values()
            if event.parent_node_metadata.node_id == request.unique_parent_id
        ]
        return node_execution_pb2.NodeExecutionList(node_executions=listed)

    async def GetNodeExecutionData(self, request: Any, context: Any) -> Any:
        from aloft_service.errors import NotFound

        event = self._node_executions(request.id.execution_id.name).get(request.id.node_id)
        if event is None or self.blobs is None:
            raise NotFound(f"node execution {request.id.node_id} not found")
        response = node_execution_pb2.NodeExecutionGetDataResponse()
        if event.output_uri:
            response.outputs.url = event.output_uri
            response.full_outputs.CopyFrom(await self.blobs.read_proto(event.output_uri, literals_pb2.LiteralMap))
        return response

    def workflow_phases(self, name: str) -> list[int]:
        return [e.phase for e in self.workflow_events if e.execution_id.name == name]

    def node_phases(self, name: str, node_id: str) -> list[int]:
        return [e.phase for e in self.node_events if e.id.execution_id.name == name and e.id.node_id == node_id]


class FakeSignals(signal_grpc.SignalServiceServicer):
    """SignalService: GetOrCreateSignal records the signal (unset); tests set values with ``set``."""

    def __init__(self) -> None:
        self.signals: dict[tuple[str, str], signal_admin_pb2.Signal] = {}

    def set(self, execution: str, signal_id: str, value: literals_pb2.Literal) -> None:
        self.signals[(execution, signal_id)].value.CopyFrom(value)

    async def GetOrCreateSignal(self, request: Any, context: Any) -> Any:
        key = (request.id.execution_id.name, request.id.signal_id)
        if key not in self.signals:
            self.signals[key] = signal_admin_pb2.Signal(id=request.id, type=request.type)
        return self.signals[key]


async def start_fake_admin(admin: FakeAdmin) -> RunningService:
    def register(server: grpc.aio.Server) -> None:
        admin_pb2_grpc.add_AdminServiceServicer_to_server(admin, server)
        signal_grpc.add_SignalServiceServicer_to_server(admin.signals, server)

    name = admin_pb2.DESCRIPTOR.services_by_name["AdminService"].full_name
    signals = signal_pb2.DESCRIPTOR.services_by_name["SignalService"].full_name
    return await start_service(Service("fake-admin", [name, signals], [register]), ListenConfig())


# ---- the stack ------------------------------------------------------------------------------------------------


@dataclass
class Stack:
    config: PropellerConfig
    plugin: ScriptedPlugin
    admin: FakeAdmin
    blobs: BlobStore
    client: dataplane_pb2_grpc.DataPlaneServiceStub
    running: RunningService | None = None
    channel: grpc.aio.Channel | None = None
    counter: int = 0

    def execution_id(self, name: str) -> identifier_pb2.WorkflowExecutionIdentifier:
        return identifier_pb2.WorkflowExecutionIdentifier(project="flytesnacks", domain="development", name=name)

    async def create(
        self,
        scenario: str,
        inputs: dict[str, Any],
        name: str = "",
        mutate: Callable[[compiler_pb2.CompiledWorkflowClosure], None] | None = None,
        recover_from: identifier_pb2.WorkflowExecutionIdentifier | None = None,
        hold: bool = False,
        **config: Any,
    ) -> identifier_pb2.WorkflowExecutionIdentifier:
        self.counter += 1
        execution_id = self.execution_id(name or f"e{self.counter}-{scenario.replace('_', '-')}")
        inputs_uri = self.blobs.uri("inputs", execution_id.name, "inputs.pb")
        await self.blobs.write_proto(inputs_uri, to_literal_map(inputs))
        closure = load_closure(scenario)
        if mutate is not None:
            mutate(closure)
        request = dataplane_pb2.CreateExecutionRequest(
            id=execution_id,
            compiled_closure=closure,
            inputs_uri=inputs_uri,
            workflow_id=closure.primary.template.id,
            config=dataplane_pb2.ExecutionConfig(**config),
            hold=hold,
        )
        if recover_from is not None:
            request.recover_from.CopyFrom(recover_from)
        await self.client.CreateExecution(request)
        return execution_id

    async def status(self, execution_id: identifier_pb2.WorkflowExecutionIdentifier) -> dataplane_pb2.ExecutionStatus:
        return await self.client.GetExecutionStatus(dataplane_pb2.GetExecutionStatusRequest(id=execution_id))

    async def wait(
        self,
        execution_id: identifier_pb2.WorkflowExecutionIdentifier,
        deadline: float = 60.0,
        wait_for_events: bool = True,
    ) -> dataplane_pb2.ExecutionStatus:
        """Poll until the execution is terminal and admin got the terminal workflow event."""
        terminal = {
            execution_pb2.WorkflowExecution.SUCCEEDED,
            execution_pb2.WorkflowExecution.FAILED,
            execution_pb2.WorkflowExecution.ABORTED,
        }
        give_up = time.monotonic() + deadline
        while True:
            status = await self.status(execution_id)
            delivered = status.phase in self.admin.workflow_phases(execution_id.name) or not wait_for_events
            if status.phase in terminal and delivered:
                return status
            if time.monotonic() > give_up:
                raise AssertionError(f"{execution_id.name} did not finish: {status}")
            await asyncio.sleep(0.05)

    async def outputs(self, execution_id: identifier_pb2.WorkflowExecutionIdentifier) -> dict[str, Any]:
        uri = self.blobs.uri(
            *self.config.propeller.metadata_prefix.split("/"),
            execution_id.project,
            execution_id.domain,
            execution_id.name,
            "outputs.pb",
        )
        return from_literal_map(await self.blobs.read_proto(uri, literals_pb2.LiteralMap))

    async def start(self) -> None:
        deps = build_deps(self.config, plugins=self.plugin, blobs=self.blobs)
        self.running = await start_service(build_service(deps), ListenConfig())
        self.channel = grpc.aio.insecure_channel(f"127.0.0.1:{self.running.grpc_port}")
        self.client = dataplane_pb2_grpc.DataPlaneServiceStub(self.channel)

    async def stop(self) -> None:
        if self.channel is not None:
            await self.channel.close()
        if self.running is not None:
            await self.running.stop(grace=0.5)
        self.running = None


# Propeller's store schema: its migrations applied to a template database once per session and backend, copied into
# each test's store (the stack's own migration run then finds it at head).
PROPELLER_SCHEMA = DbTemplate("propeller", lambda url: migrate(MIGRATIONS, url, VERSION_TABLE))


@pytest.fixture(params=["sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path / "propeller.db", PROPELLER_SCHEMA) as url:
        yield url


def make_config(tmp_path: Path, store_url: str, admin_port: int, **propeller: Any) -> PropellerConfig:
    section = {
        "workers": 4,
        "workflow-reeval-duration": "1s",
        "downstream-eval-duration": "200ms",
        "max-node-retries-for-system-failures": 2,
        "adminEndpoint": f"127.0.0.1:{admin_port}",
        **propeller,
    }
    return PropellerConfig(
        propeller=PropellerSection.model_validate(section),
        database=DatabaseConfig(url=store_url),
        storage=StorageConfig.model_validate({"type": "local", "local": {"root": str(tmp_path / "blobs")}}),
        stack=StackConfig(dataDir=str(tmp_path / "stack")),
    )


@pytest.fixture
def propeller_settings() -> dict[str, Any]:
    """Extra ``propeller:`` keys for the stack; a test module overrides this fixture to change them."""
    return {}


@pytest.fixture
async def stack(tmp_path: Path, store_url: str, propeller_settings: dict[str, Any]) -> AsyncIterator[Stack]:
    admin = FakeAdmin()
    admin_service = await start_fake_admin(admin)
    config = make_config(tmp_path, store_url, admin_service.grpc_port, **propeller_settings)
    run_migrations(config)
    blobs = create_blob_store(config.storage)
    plugin = ScriptedPlugin(tmp_path / "plugin")
    harness = Stack(config, plugin, admin, blobs, client=None)  # type: ignore[arg-type]
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()
        await admin_service.stop(grace=0.5)


@pytest.fixture
async def fake_admin() -> AsyncIterator[tuple[FakeAdmin, int]]:
    """A FakeAdmin on a free port (for tests that run propeller as a separate process)."""
    admin = FakeAdmin()
    running = await start_fake_admin(admin)
    try:
        yield admin, running.grpc_port
    finally:
        await running.stop(grace=0.5)


# ---- raw-container workflows for tests that run propeller as a process -----------------------------------------

_INT = types_pb2.LiteralType(simple=types_pb2.INTEGER)


def _raw_task(name: str, script: str) -> tasks_pb2.TaskTemplate:
    variables = {"x": interface_pb2.Variable(type=_INT)}
    return tasks_pb2.TaskTemplate(
        id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK, project="p", domain="d", name=name, version="1"
        ),
        type="raw-container",
        interface=interface_pb2.TypedInterface(
            inputs=interface_pb2.VariableMap(variables=variables),
            outputs=interface_pb2.VariableMap(variables={"o0": interface_pb2.Variable(type=_INT)}),
        ),
        container=tasks_pb2.Container(
            image="alpine:3.19",
            command=["sh", "-c", script],
            data_config=tasks_pb2.DataLoadingConfig(enabled=True, input_path="/var/inputs", output_path="/var/outputs"),
        ),
    )


def _promise(node_id: str, var: str) -> literals_pb2.BindingData:
    return literals_pb2.BindingData(promise=types_pb2.OutputReference(node_id=node_id, var=var))


def _chained_raw_closure(side_effects: Path, sleep_seconds: int = 1) -> compiler_pb2.CompiledWorkflowClosure:
    """Two chained raw tasks; each appends a line to a per-(task, x) file, sleeps, then outputs x + 1."""

    def script(task: str) -> str:
        return (
            f"echo run >> {side_effects}/{task}-{{{{.inputs.x}}}}; sleep {sleep_seconds}; "
            "echo $(( {{.inputs.x}} + 1 )) > /var/outputs/o0"
        )

    first, second = _raw_task("first", script("first")), _raw_task("second", script("second"))

    def node(node_id: str, task: tasks_pb2.TaskTemplate, source: str, var: str) -> core_workflow_pb2.Node:
        return core_workflow_pb2.Node(
            id=node_id,
            metadata=core_workflow_pb2.NodeMetadata(name=task.id.name),
            inputs=[literals_pb2.Binding(var="x", binding=_promise(source, var))],
            task_node=core_workflow_pb2.TaskNode(reference_id=task.id),
        )

    template = core_workflow_pb2.WorkflowTemplate(
        id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.WORKFLOW, project="p", domain="d", name="wf", version="1"
        ),
        nodes=[node("n0", first, "start-node", "x"), node("n1", second, "n0", "o0")],
        outputs=[literals_pb2.Binding(var="o0", binding=_promise("n1", "o0"))],
    )
    return compiler_pb2.CompiledWorkflowClosure(
        primary=compiler_pb2.CompiledWorkflow(template=template),
        tasks=[compiler_pb2.CompiledTask(template=first), compiler_pb2.CompiledTask(template=second)],
    )


@pytest.fixture
def chained_raw_closure() -> Callable[..., compiler_pb2.CompiledWorkflowClosure]:
    """Two chained ``sh -c`` raw tasks; each appends ``run`` to ``<side_effects>/<task>-<x>``, sleeps (1 s unless
    ``sleep_seconds`` says otherwise), outputs
    x + 1: the side-effect files count how often each attempt really ran."""
    return _chained_raw_closure


TERMINAL = (4, 6, 7)  # SUCCEEDED, FAILED, ABORTED


@dataclass
class ChainedRuns:
    """Executions of ``chained_raw_closure`` created through a DataPlaneService, with their inputs in ``blobs``
    (the local store under ``<tmp_path>/blobs`` the propeller process is configured with)."""

    blobs: BlobStore

    async def create(
        self,
        client: dataplane_pb2_grpc.DataPlaneServiceStub,
        closure: compiler_pb2.CompiledWorkflowClosure,
        execution_id: identifier_pb2.WorkflowExecutionIdentifier,
        x: int,
    ) -> None:
        inputs_uri = self.blobs.uri("inputs", execution_id.name)
        inputs = literals_pb2.LiteralMap()
        inputs.literals["x"].scalar.primitive.integer = x
        await self.blobs.write_proto(inputs_uri, inputs)
        request = dataplane_pb2.CreateExecutionRequest(
            id=execution_id, compiled_closure=closure, inputs_uri=inputs_uri, workflow_id=closure.primary.template.id
        )
        await client.CreateExecution(request, timeout=30)

    @staticmethod
    async def wait_terminal(
        client: dataplane_pb2_grpc.DataPlaneServiceStub, execution_id: identifier_pb2.WorkflowExecutionIdentifier
    ) -> dataplane_pb2.ExecutionStatus:
        for _ in range(1200):
            status = await client.GetExecutionStatus(dataplane_pb2.GetExecutionStatusRequest(id=execution_id))
            if status.phase in TERMINAL:
                break
            await asyncio.sleep(0.1)
        return status  # type: ignore[no-any-return]


@pytest.fixture
def chained_runs(tmp_path: Path) -> ChainedRuns:
    root = str(tmp_path / "blobs")
    return ChainedRuns(create_blob_store(StorageConfig.model_validate({"type": "local", "local": {"root": root}})))
