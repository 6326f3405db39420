"""The connector plugin against a real gRPC connector server (flyteidl's AsyncAgentService, SyncAgentService and
AgentMetadataService served in-process by a scripted connector): discovery and routing, create-once with resume
after a restart, GetTask backoff, outputs, abort → DeleteTask, Flyte's retryable / permanent errors, sync
connectors, TLS + bearer tokens, and ResourceManager pools per task type (real Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import grpc
import pytest
from flyteidl.admin import agent_pb2
from flyteidl.core import execution_pb2, identifier_pb2, interface_pb2, literals_pb2, tasks_pb2, types_pb2
from flyteidl.service import agent_pb2_grpc
from google.protobuf import struct_pb2

from aloft_propeller.config import ConnectorServiceConfig, PluginsConfig, PropellerConfig
from aloft_propeller.plugins.base import Phase, PluginAnswer, TaskExecutionContext
from aloft_propeller.plugins.connector import ConnectorPlugin
from aloft_propeller.plugins.connector.state import ConnectorState, marker_uri
from aloft_propeller.plugins.registry import build_plugin_registry
from aloft_propeller.plugins.resources import attempt_resources
from aloft_propeller.resourcemanager import RedisResourceManager
from aloft_storage import BlobStore
from aloft_testing.kube.certs import self_signed

MakeCtx = Callable[..., Awaitable[TaskExecutionContext]]
T = execution_pb2.TaskExecution
INT = types_pb2.LiteralType(simple=types_pb2.INTEGER)


def int_literal(value: int) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value)))


@dataclass
class ScriptedConnector(
    agent_pb2_grpc.AsyncAgentServiceServicer,
    agent_pb2_grpc.SyncAgentServiceServicer,
    agent_pb2_grpc.AgentMetadataServiceServicer,
):
    """A connector whose answers the test scripts; it records every call."""

    agents: list[agent_pb2.Agent] = field(default_factory=list)
    resources: list[agent_pb2.Resource] = field(default_factory=list)  # GetTask answers in order, last repeats
    sync_resource: agent_pb2.Resource = field(default_factory=agent_pb2.Resource)
    create_error: grpc.StatusCode | None = None
    get_error: grpc.StatusCode | None = None
    token: str = ""
    creates: list[agent_pb2.CreateTaskRequest] = field(default_factory=list)
    gets: list[agent_pb2.GetTaskRequest] = field(default_factory=list)
    deletes: list[agent_pb2.DeleteTaskRequest] = field(default_factory=list)
    syncs: list[list[agent_pb2.ExecuteTaskSyncRequest]] = field(default_factory=list)
    seen_tokens: list[str] = field(default_factory=list)

    async def _check(self, context: grpc.aio.ServicerContext) -> None:
        header = dict(context.invocation_metadata() or ()).get("authorization", "")
        self.seen_tokens.append(header)
        if self.token and header != f"Bearer {self.token}":
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad token")

    async def CreateTask(self, request: Any, context: Any) -> agent_pb2.CreateTaskResponse:
        await self._check(context)
        if self.create_error is not None:
            await context.abort(self.create_error, "connector refused")
        self.creates.append(request)
        return agent_pb2.CreateTaskResponse(resource_meta=f"job-{len(self.creates)}".encode())

    async def GetTask(self, request: Any, context: Any) -> agent_pb2.GetTaskResponse:
        await self._check(context)
        self.gets.append(request)
        if self.get_error is not None:
            await context.abort(self.get_error, "connector down")
        index = min(len(self.gets), len(self.resources)) - 1
        return agent_pb2.GetTaskResponse(resource=self.resources[index])

    async def DeleteTask(self, request: Any, context: Any) -> agent_pb2.DeleteTaskResponse:
        await self._check(context)
        self.deletes.append(request)
        return agent_pb2.DeleteTaskResponse()

    async def ExecuteTaskSync(self, request_iterator: Any, context: Any) -> AsyncIterator[Any]:
        await self._check(context)
        self.syncs.append([request async for request in request_iterator])
        header = agent_pb2.ExecuteTaskSyncResponseHeader(resource=self.sync_resource)
        yield agent_pb2.ExecuteTaskSyncResponse(header=header)

    async def ListAgents(self, request: Any, context: Any) -> agent_pb2.ListAgentsResponse:
        await self._check(context)
        return agent_pb2.ListAgentsResponse(agents=self.agents)


@dataclass
class Served:
    connector: ScriptedConnector
    endpoint: str
    server: grpc.aio.Server


async def serve(connector: ScriptedConnector, credentials: grpc.ServerCredentials | None = None) -> Served:
    server = grpc.aio.server()
    agent_pb2_grpc.add_AsyncAgentServiceServicer_to_server(connector, server)
    agent_pb2_grpc.add_SyncAgentServiceServicer_to_server(connector, server)
    agent_pb2_grpc.add_AgentMetadataServiceServicer_to_server(connector, server)
    if credentials is None:
        port = server.add_insecure_port("127.0.0.1:0")
    else:
        port = server.add_secure_port("localhost:0", credentials)
    await server.start()
    return Served(connector, f"{'localhost' if credentials else '127.0.0.1'}:{port}", server)


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    sensor = agent_pb2.Agent(name="Sensor", supported_task_categories=[agent_pb2.TaskCategory(name="sensor")])
    echo = agent_pb2.Agent(name="Echo", is_sync=True, supported_task_types=["echo"])
    running = await serve(ScriptedConnector(agents=[sensor, echo]))
    yield running
    await running.server.stop(None)


def connector_config(tmp_path: Path, endpoint: str, **overrides: Any) -> PropellerConfig:
    settings: dict[str, Any] = {
        "defaultConnector": {"endpoint": endpoint, "insecure": True, "defaultTimeout": "5s"},
        "pollInterval": "0s",
        "webApi": {"caching": {"initialPollInterval": "0.05s", "resyncInterval": "0.4s", "maxSystemFailures": 2}},
        **overrides,
    }
    plugins = PluginsConfig.model_validate({"connector-service": settings})
    return PropellerConfig.model_validate(
        {
            "stack": {"dataDir": str(tmp_path / "stack")},
            "storage": {"type": "local", "local": {"root": str(tmp_path / "blobs")}},
            "tasks": {"task-plugins": {"enabled-plugins": ["local-process", "connector-service"]}},
            "plugins": plugins.model_dump(by_alias=True),
        }
    )


async def new_plugin(config: PropellerConfig, blobs: BlobStore) -> ConnectorPlugin:
    # Discovery calls ListAgents with a blocking stub: off the loop that serves the test's connector.
    return await asyncio.to_thread(ConnectorPlugin, config, blobs, "connector-service", discover=False)


def template(task_type: str = "sensor", outputs: dict[str, types_pb2.LiteralType] | None = None) -> Any:
    return tasks_pb2.TaskTemplate(
        id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK, project="flytesnacks", domain="development", name="t", version="v1"
        ),
        type=task_type,
        interface=interface_pb2.TypedInterface(
            outputs=interface_pb2.VariableMap(
                variables={k: interface_pb2.Variable(type=v) for k, v in (outputs or {}).items()}
            )
        ),
        custom=struct_pb2.Struct(fields={"sensor_module": struct_pb2.Value(string_value="m")}),
    )


async def until_terminal(plugin: ConnectorPlugin, ctx: TaskExecutionContext, rounds: int = 200) -> PluginAnswer:
    for _ in range(rounds):
        answer = await plugin.handle(ctx)
        if answer.info.phase.is_terminal:
            return answer
        ctx = replace(ctx, plugin_state=answer.plugin_state)
        await asyncio.sleep(0.01)
    raise AssertionError(f"still {answer.info.phase.name} after {rounds} rounds")


def running(**kwargs: Any) -> agent_pb2.Resource:
    return agent_pb2.Resource(phase=T.RUNNING, **kwargs)


async def test_discovery_routes_task_types_to_deployments(served: Served, tmp_path: Path, blobs: BlobStore) -> None:
    other = await serve(ScriptedConnector(agents=[agent_pb2.Agent(name="Big", supported_task_types=["bigquery"])]))
    try:
        config = connector_config(
            tmp_path,
            served.endpoint,
            connectors={"big": {"endpoint": other.endpoint, "insecure": True}},
            connectorForTaskTypes={"snowflake": "big"},
            supportedTaskTypes=["legacy", "sensor"],
        )
        plugin = await new_plugin(config, blobs)
        assert plugin.task_types == ("bigquery", "echo", "legacy", "sensor", "snowflake")
        assert plugin.routes.route("bigquery", 0).deployment.endpoint == other.endpoint
        assert plugin.routes.route("snowflake", 0).deployment.endpoint == other.endpoint
        assert plugin.routes.route("echo", 0).is_sync
        assert not plugin.routes.route("sensor", 0).is_sync
        # Unknown (type, version): the default connector, async (Flyte's getFinalConnector).
        assert plugin.routes.route("sensor", 3) == plugin.routes.route("unknown", 0)
        assert plugin.routes.route("unknown", 0).deployment.endpoint == served.endpoint
        # A connector deployed later is picked up by the next discovery, and the registry routes its type.
        registry = await asyncio.to_thread(build_plugin_registry, config, blobs)
        with pytest.raises(LookupError):
            registry.for_task_type("databricks")
        served.connector.agents.append(agent_pb2.Agent(name="Db", supported_task_types=["databricks"]))
        for plugin_ in registry.plugins():
            if isinstance(plugin_, ConnectorPlugin):
                await asyncio.to_thread(plugin_.routes.refresh)
                await plugin_.close()
        assert registry.for_task_type("databricks").id == "connector-service"
        assert registry.for_task_type("python-task").id == "local-process"
    finally:
        await other.server.stop(None)


def test_config_accepts_flyte_agent_service_keys(tmp_path: Path) -> None:
    plugins = PluginsConfig.model_validate(
        {
            "agent-service": {
                "defaultAgent": {"endpoint": "dns:///flyteagent:8000", "insecure": False},
                "agents": {"custom": {"endpoint": "custom:8000", "timeouts": {"GetTask": "3s"}}},
                "agentForTaskTypes": {"custom_task": "custom"},
            }
        }
    )
    agent = plugins.agent_service
    assert agent.defaultConnector.endpoint == "dns:///flyteagent:8000" and not agent.defaultConnector.insecure
    assert agent.defaultConnector.timeout("CreateTask") == 10  # Flyte's default deployment keeps its 10s
    assert agent.connectors["custom"].timeout("GetTask") == 3
    assert agent.connectors["custom"].timeout("CreateTask") is None  # a listed deployment: no deadline
    assert agent.connectorForTaskTypes == {"custom_task": "custom"}
    with pytest.raises(ValueError, match="names connector \\[missing\\]"):
        ConnectorServiceConfig.model_validate({"connectorForTaskTypes": {"x": "missing"}})


async def test_async_task_created_once_polled_with_backoff_and_outputs_mapped(
    served: Served, tmp_path: Path, blobs: BlobStore, make_ctx: MakeCtx
) -> None:
    info = struct_pb2.Struct(fields={"job": struct_pb2.Value(string_value="j-1")})
    link = execution_pb2.TaskLog(name="Console", uri="https://console/j-1")
    outputs = literals_pb2.LiteralMap(literals={"o0": int_literal(42)})
    served.connector.resources = [running(message="waiting")] * 6 + [
        running(message="almost", log_links=[link], custom_info=info),
        agent_pb2.Resource(phase=T.SUCCEEDED, outputs=outputs, log_links=[link]),
    ]
    plugin = await new_plugin(connector_config(tmp_path, served.endpoint), blobs)
    ctx = await make_ctx(template(outputs={"o0": INT}), envs={"A": "1"})
    first = await plugin.handle(ctx)
    assert first.info.phase == Phase.QUEUED and len(served.connector.creates) == 1
    created = served.connector.creates[0]
    assert created.output_prefix == ctx.output_prefix and created.template.type == "sensor"
    assert created.task_execution_metadata.task_execution_id == ctx.task_execution_id
    assert created.task_execution_metadata.namespace == "flytesnacks-development"
    assert dict(created.task_execution_metadata.environment_variables) == {"A": "1"}

    seen: list[PluginAnswer] = []
    ctx = replace(ctx, plugin_state=first.plugin_state)
    rounds = 0
    while True:
        answer = await plugin.handle(ctx)
        seen.append(answer)
        ctx = replace(ctx, plugin_state=answer.plugin_state)
        rounds += 1
        if answer.info.phase.is_terminal:
            break
        await asyncio.sleep(0.01)
    assert answer.info.phase == Phase.SUCCESS
    assert len(served.connector.creates) == 1
    # Backoff: far fewer GetTask calls than rounds while the report did not change.
    assert len(served.connector.gets) == 8 and rounds > 16
    assert {g.resource_meta for g in served.connector.gets} == {b"job-1"}
    assert served.connector.gets[0].task_category.name == "sensor"
    written = await blobs.read_proto(f"{ctx.output_prefix}/outputs.pb", literals_pb2.LiteralMap)
    assert written == outputs
    almost = next(a.info for a in seen if a.info.reason == "almost")
    assert almost.logs[0].uri == "https://console/j-1" and almost.custom_info == info
    waiting = next(a.info for a in seen if a.info.reason == "waiting")
    assert almost.version > waiting.version  # a new report inside RUNNING is a new event version


async def test_restart_resumes_without_creating_again(
    served: Served, tmp_path: Path, blobs: BlobStore, make_ctx: MakeCtx
) -> None:
    served.connector.resources = [running()]
    config = connector_config(tmp_path, served.endpoint)
    ctx = await make_ctx(template())
    answer = await (await new_plugin(config, blobs)).handle(ctx)
    assert answer.info.phase == Phase.QUEUED
    # A new propeller with the persisted state polls the same task.
    resumed = await (await new_plugin(config, blobs)).handle(replace(ctx, plugin_state=answer.plugin_state))
    assert resumed.info.phase == Phase.RUNNING
    # Killed before the state was persisted: the marker written right after CreateTask is adopted.
    adopted = await (await new_plugin(config, blobs)).handle(ctx)
    assert adopted.info.phase == Phase.RUNNING
    assert ConnectorState.decode(adopted.plugin_state).resource_meta == b"job-1"
    assert len(served.connector.creates) == 1
    assert [g.resource_meta for g in served.connector.gets] == [b"job-1", b"job-1"]


async def test_abort_deletes_the_task(served: Served, tmp_path: Path, blobs: BlobStore, make_ctx: MakeCtx) -> None:
    served.connector.resources = [running()]
    plugin = await new_plugin(connector_config(tmp_path, served.endpoint), blobs)
    ctx = await make_ctx(template())
    await plugin.abort(ctx, "nothing created yet")
    assert served.connector.deletes == []
    answer = await plugin.handle(ctx)
    await plugin.abort(replace(ctx, plugin_state=answer.plugin_state), "user abort")
    assert [(d.resource_meta, d.task_category.name) for d in served.connector.deletes] == [(b"job-1", "sensor")]
    # After a restart, with only the marker: still deleted.
    await (await new_plugin(connector_config(tmp_path, served.endpoint), blobs)).abort(ctx, "again")
    assert len(served.connector.deletes) == 2


async def test_errors_are_retryable_or_permanent_as_flyte(
    served: Served, tmp_path: Path, blobs: BlobStore, make_ctx: MakeCtx
) -> None:
    config = connector_config(tmp_path, served.endpoint)
    plugin = await new_plugin(config, blobs)
    served.connector.create_error = grpc.StatusCode.INTERNAL
    refused = await plugin.handle(await make_ctx(template(), execution="e-create"))
    assert refused.info.phase == Phase.RETRYABLE_FAILURE
    assert refused.info.error is not None and refused.info.error.code == "TaskFailedWithError"
    assert "INTERNAL: connector refused" in refused.info.error.message
    served.connector.create_error = None

    failures = {
        T.FAILED: Phase.PERMANENT_FAILURE,
        T.ABORTED: Phase.PERMANENT_FAILURE,
        T.RETRYABLE_FAILED: Phase.RETRYABLE_FAILURE,
    }
    for index, (task_phase, expected) in enumerate(failures.items()):
        error = agent_pb2.AgentError(code="QuotaExceeded", origin=execution_pb2.ExecutionError.SYSTEM)
        served.connector.resources = [agent_pb2.Resource(phase=task_phase, message="boom", agent_error=error)]
        served.connector.gets.clear()
        answer = await until_terminal(plugin, await make_ctx(template(), execution=f"e-{index}"))
        assert answer.info.phase == expected, task_phase
        assert answer.info.error is not None and answer.info.error.code == "QuotaExceeded"
        assert answer.info.error.kind == "SYSTEM"
    # The deprecated `state` of older connectors.
    served.connector.resources = [agent_pb2.Resource(state=agent_pb2.RETRYABLE_FAILURE, message="old")]
    old = await until_terminal(plugin, await make_ctx(template(), execution="e-old"))
    assert old.info.phase == Phase.RETRYABLE_FAILURE and old.info.error is not None
    assert old.info.error.code == "TaskFailedWithError"

    # GetTask failing more than maxSystemFailures (2) times in a row fails the attempt.
    served.connector.get_error = grpc.StatusCode.UNAVAILABLE
    lost = await until_terminal(plugin, await make_ctx(template(), execution="e-get"))
    assert lost.info.phase == Phase.PERMANENT_FAILURE
    assert lost.info.error is not None and lost.info.error.code == "CacheFailed"
    assert "UNAVAILABLE: connector down" in lost.info.error.message


async def test_outputs_written_by_the_connector(
    served: Served, tmp_path: Path, blobs: BlobStore, make_ctx: MakeCtx
) -> None:
    plugin = await new_plugin(connector_config(tmp_path, served.endpoint), blobs)
    served.connector.resources = [agent_pb2.Resource(phase=T.SUCCEEDED)]
    missing = await until_terminal(plugin, await make_ctx(template(outputs={"o0": INT}), execution="e-missing"))
    assert missing.info.phase == Phase.RETRYABLE_FAILURE
    assert missing.info.error is not None and missing.info.error.code == "OutputsNotFound"
    ctx = await make_ctx(template(outputs={"o0": INT}), execution="e-uri")
    written = literals_pb2.LiteralMap(literals={"o0": int_literal(7)})
    await blobs.write_proto(f"{ctx.output_prefix}/outputs.pb", written)  # as the connector does at output_prefix
    assert (await until_terminal(plugin, ctx)).info.phase == Phase.SUCCESS
    assert await blobs.read_proto(f"{ctx.output_prefix}/outputs.pb", literals_pb2.LiteralMap) == written


async def test_sync_connector_executes_once_with_outputs(
    served: Served, tmp_path: Path, blobs: BlobStore, make_ctx: MakeCtx
) -> None:
    outputs = literals_pb2.LiteralMap(literals={"o0": int_literal(5)})
    served.connector.sync_resource = agent_pb2.Resource(phase=T.SUCCEEDED, outputs=outputs)
    plugin = await asyncio.to_thread(ConnectorPlugin, connector_config(tmp_path, served.endpoint), blobs)
    try:
        ctx = await make_ctx(template("echo", outputs={"o0": INT}), {"x": int_literal(1)})
        answer = await plugin.handle(ctx)
        assert answer.info.phase == Phase.SUCCESS
        assert served.connector.creates == [] and len(served.connector.syncs) == 1
        header, inputs = served.connector.syncs[0]
        assert header.header.template.type == "echo" and header.header.output_prefix == ctx.output_prefix
        assert inputs.inputs.literals["x"] == int_literal(1)
        assert await blobs.read_proto(f"{ctx.output_prefix}/outputs.pb", literals_pb2.LiteralMap) == outputs
        served.connector.sync_resource = agent_pb2.Resource(phase=T.FAILED, message="bad input")
        failed = await plugin.handle(await make_ctx(template("echo"), execution="e-sync-fail"))
        assert failed.info.phase == Phase.PERMANENT_FAILURE and "bad input" in failed.info.reason
    finally:
        await plugin.close()


def _self_signed(tmp_path: Path) -> tuple[bytes, bytes, Path]:
    cert_pem, key_pem = self_signed("localhost", ["localhost"])
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(cert_pem)
    return cert_pem, key_pem, ca_file


async def test_tls_and_bearer_token(tmp_path: Path, blobs: BlobStore, make_ctx: MakeCtx) -> None:
    cert, key, ca_file = _self_signed(tmp_path)
    connector = ScriptedConnector(
        agents=[agent_pb2.Agent(name="S", supported_task_types=["secure"])],
        resources=[running()],
        token="s3cret",
    )
    secure = await serve(connector, grpc.ssl_server_credentials([(key, cert)]))
    try:
        token_file = tmp_path / "token"
        token_file.write_text("s3cret\n")
        deployment = {"endpoint": secure.endpoint, "insecure": False, "caCertFile": str(ca_file)}
        config = connector_config(tmp_path, "", connectors={"secure": {**deployment, "tokenFile": str(token_file)}})
        plugin = await new_plugin(config, blobs)
        assert plugin.task_types == ("secure",)
        answer = await plugin.handle(await make_ctx(template("secure")))
        assert answer.info.phase == Phase.QUEUED and len(connector.creates) == 1
        assert set(connector.seen_tokens) == {"Bearer s3cret"}
        # Without the token the connector refuses: the create is a retryable failure.
        # (discovery fails too, so the type is routed by configuration)
        config = connector_config(
            tmp_path, "", connectors={"secure": deployment}, connectorForTaskTypes={"secure": "secure"}
        )
        refused = await (await new_plugin(config, blobs)).handle(await make_ctx(template("secure"), execution="e2"))
        assert refused.info.phase == Phase.RETRYABLE_FAILURE and "UNAUTHENTICATED" in refused.info.reason
    finally:
        await secure.server.stop(None)


async def throttled_plugin(config: PropellerConfig, blobs: BlobStore, manager: RedisResourceManager) -> ConnectorPlugin:
    """The plugin the registry routes sensor tasks to, its pools registered with ``manager``."""
    registry = await asyncio.to_thread(build_plugin_registry, config, blobs, resources=manager)
    plugin = registry.for_task_type("sensor")
    assert isinstance(plugin, ConnectorPlugin)
    return plugin


async def throttled_ctx(
    make_ctx: MakeCtx, manager: RedisResourceManager, plugin: ConnectorPlugin, execution: str, task_type: str = "sensor"
) -> TaskExecutionContext:
    """An attempt of ``execution`` (a ``task_type`` task) that takes its token from ``manager``."""
    ctx = await make_ctx(template(task_type), execution=execution)
    return replace(ctx, resources=attempt_resources(manager, plugin.id, "flytesnacks", "development", execution))


async def first_holds_the_token(
    plugin: ConnectorPlugin, served: Served, first: TaskExecutionContext, second: TaskExecutionContext, why: str
) -> PluginAnswer:
    """The first attempt is created; the second waits for resources (``why`` in the reason) and is not created."""
    created = await plugin.handle(first)
    assert created.info.phase == Phase.QUEUED
    waiting = await plugin.handle(second)
    assert waiting.info.phase == Phase.WAITING_FOR_RESOURCES and why in waiting.info.reason
    assert len(served.connector.creates) == 1
    return created


async def test_quota_per_task_type(
    served: Served, tmp_path: Path, blobs: BlobStore, make_ctx: MakeCtx, redis_manager: RedisResourceManager
) -> None:
    served.connector.resources = [running()]
    config = connector_config(tmp_path, served.endpoint, webApi={"resourceQuotas": {"sensor": 1, "default": 5}})
    plugin = await throttled_plugin(config, blobs, redis_manager)
    assert plugin.resource_quotas() == {"sensor": 1, "default": 5}

    first, second = [await throttled_ctx(make_ctx, redis_manager, plugin, name) for name in ("q1", "q2")]
    running_first = await first_holds_the_token(plugin, served, first, second, "sensor")
    # Other task types draw from the default pool.
    other = await plugin.handle(await throttled_ctx(make_ctx, redis_manager, plugin, "q3", "unrouted"))
    assert other.info.phase == Phase.QUEUED
    await plugin.finalize(replace(first, plugin_state=running_first.plugin_state))
    assert (await plugin.handle(second)).info.phase == Phase.QUEUED
    assert len(served.connector.creates) == 3
    await plugin.close()


async def test_marker_written_beside_outputs(
    served: Served, tmp_path: Path, blobs: BlobStore, make_ctx: MakeCtx
) -> None:
    plugin = await new_plugin(connector_config(tmp_path, served.endpoint), blobs)
    ctx = await make_ctx(template())
    answer = await plugin.handle(ctx)
    marker = ConnectorState.decode(await blobs.read(marker_uri(ctx.output_prefix)))
    assert marker == ConnectorState.decode(answer.plugin_state)


def test_documented_config_loads() -> None:
    from aloft_config import load_config

    repo = Path(__file__).resolve().parents[4]
    config = load_config(repo / "config" / "connectors.yaml", PropellerConfig)
    assert "connector-service" in config.tasks.task_plugins.enabled_plugins
    assert config.plugins.connector_service.defaultConnector.endpoint == "127.0.0.1:8000"


async def test_secret_requests_and_identity_reach_the_connector(
    served: Served, tmp_path: Path, blobs: BlobStore, make_ctx: MakeCtx
) -> None:
    """As Flyte: the connector gets the template with its secret requests (it resolves them in its own
    environment) and the execution's identity / service account in the task execution metadata."""
    from flyteidl.core import security_pb2

    plugin = await new_plugin(connector_config(tmp_path, served.endpoint), blobs)
    task = template()
    task.security_context.secrets.add(group="bigquery", key="token")
    run_as = security_pb2.Identity(k8s_service_account="etl", execution_identity="alice")
    ctx = replace(await make_ctx(task), security_context=security_pb2.SecurityContext(run_as=run_as))
    await plugin.handle(ctx)
    created = served.connector.creates[0]
    assert [(s.group, s.key) for s in created.template.security_context.secrets] == [("bigquery", "token")]
    assert created.task_execution_metadata.k8s_service_account == "etl"
    assert created.task_execution_metadata.identity.execution_identity == "alice"


class FakeClock:
    """The rate limiters' clock, moved by the test (pacing is checked by counting calls, not by waiting)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def paced_plugin(config: PropellerConfig, blobs: BlobStore, clock: FakeClock) -> ConnectorPlugin:
    return await asyncio.to_thread(ConnectorPlugin, config, blobs, "connector-service", discover=False, clock=clock)


async def test_write_rate_limiter_paces_a_burst_of_creates(
    served: Served, tmp_path: Path, blobs: BlobStore, make_ctx: MakeCtx
) -> None:
    """webApi.writeRateLimiter (qps 2, burst 5): of 8 attempts started together 5 are created at once, the rest
    wait (nothing sent) and are created as tokens come back — one per 1/qps seconds of the limiter's clock."""
    served.connector.resources = [running()]
    config = connector_config(tmp_path, served.endpoint, webApi={"writeRateLimiter": {"qps": 2, "burst": 5}})
    clock = FakeClock()
    plugin = await paced_plugin(config, blobs, clock)
    contexts = [await make_ctx(template(), execution=f"burst{i}") for i in range(8)]
    answers = [await plugin.handle(ctx) for ctx in contexts]
    phases = [answer.info.phase for answer in answers]
    assert phases == [Phase.QUEUED] * 5 + [Phase.WAITING_FOR_RESOURCES] * 3
    assert "paced at 2/s (burst 5)" in answers[5].info.reason and len(served.connector.creates) == 5

    waiting = contexts[5:]
    clock.now += 0.5  # one token back
    again = [await plugin.handle(ctx) for ctx in waiting]
    assert [a.info.phase for a in again] == [Phase.QUEUED, Phase.WAITING_FOR_RESOURCES, Phase.WAITING_FOR_RESOURCES]
    assert len(served.connector.creates) == 6
    clock.now += 1.0  # two more
    rest = [await plugin.handle(ctx) for ctx in waiting[1:]]
    assert [a.info.phase for a in rest] == [Phase.QUEUED, Phase.QUEUED]
    created = [
        bytes(request.task_execution_metadata.task_execution_id.SerializeToString())
        for request in served.connector.creates
    ]
    assert len(created) == len(set(created)) == 8  # each attempt created exactly once
    await plugin.close()


@dataclass
class SlowGets(ScriptedConnector):
    """GetTask takes a while; records how many calls were in flight at once."""

    in_flight: int = 0
    most_in_flight: int = 0

    async def GetTask(self, request: Any, context: Any) -> agent_pb2.GetTaskResponse:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.05)
            return await super().GetTask(request, context)
        finally:
            self.in_flight -= 1


async def test_read_rate_limiter_and_workers_bound_get_task(
    tmp_path: Path, blobs: BlobStore, make_ctx: MakeCtx
) -> None:
    """readRateLimiter paces GetTask (attempts without a token answer from the last report) and caching.workers
    bounds the calls in flight across attempts, as Flyte's resource cache refresh queue and workers do."""
    served = await serve(SlowGets(resources=[running()]))
    caching = {"initialPollInterval": "60s", "resyncInterval": "60s", "workers": 2}
    limits = {"readRateLimiter": {"qps": 1, "burst": 5}, "caching": caching}
    clock = FakeClock()
    plugin = await paced_plugin(connector_config(tmp_path, served.endpoint, webApi=limits), blobs, clock)
    contexts = []
    for i in range(8):
        ctx = await make_ctx(template(), execution=f"read{i}")
        created = await plugin.handle(ctx)
        contexts.append(replace(ctx, plugin_state=created.plugin_state))
    answers = await asyncio.gather(*(plugin.handle(ctx) for ctx in contexts))
    connector = served.connector
    assert isinstance(connector, SlowGets)
    assert len(connector.gets) == 5 and connector.most_in_flight == 2
    # Reported ones are RUNNING; the three without a read token stay as created (QUEUED), nothing asked.
    assert sorted(a.info.phase for a in answers) == [Phase.QUEUED] * 3 + [Phase.RUNNING] * 5
    clock.now += 3.0  # three read tokens back: the three not yet reported are asked (the others are not due)
    later = await asyncio.gather(*(plugin.handle(ctx) for ctx in contexts))
    assert len(connector.gets) == 8 and all(a.info.phase == Phase.RUNNING for a in later)
    await plugin.close()
    await served.server.stop(None)


async def test_cache_size_forgets_the_least_recently_asked(
    served: Served, tmp_path: Path, blobs: BlobStore, make_ctx: MakeCtx
) -> None:
    """caching.size bounds the remembered reports: a forgotten task is asked again at once, a remembered one waits
    for its backoff."""
    served.connector.resources = [running()]
    caching = {"initialPollInterval": "60s", "resyncInterval": "60s", "size": 10}
    plugin = await new_plugin(connector_config(tmp_path, served.endpoint, webApi={"caching": caching}), blobs)
    contexts = []
    for i in range(11):
        ctx = await make_ctx(template(), execution=f"size{i}")
        contexts.append(replace(ctx, plugin_state=(await plugin.handle(ctx)).plugin_state))
    for ctx in contexts:
        await plugin.handle(ctx)
    assert len(served.connector.gets) == 11
    await plugin.handle(contexts[-1])  # remembered, not due: no call
    assert len(served.connector.gets) == 11
    await plugin.handle(contexts[0])  # the 11th report pushed out the first: asked again
    assert len(served.connector.gets) == 12
    await plugin.close()


def test_web_api_limits_validated_as_flyte() -> None:
    for bad in (
        {"readRateLimiter": {"qps": 0}},
        {"writeRateLimiter": {"burst": 1}},
        {"caching": {"size": 5}},
        {"caching": {"workers": 0}},
    ):
        with pytest.raises(ValueError):
            ConnectorServiceConfig.model_validate({"webApi": bad})


async def test_resource_constraints_cap_a_project(
    served: Served, tmp_path: Path, blobs: BlobStore, make_ctx: MakeCtx, redis_manager: RedisResourceManager
) -> None:
    """resourceConstraints: a project's attempts hold at most ProjectScopeResourceConstraint tokens of the pool,
    whatever the pool's quota."""
    served.connector.resources = [running()]
    constraints = {"ProjectScopeResourceConstraint": {"Value": 1}, "NamespaceScopeResourceConstraint": {"Value": 1}}
    config = connector_config(
        tmp_path, served.endpoint, webApi={"resourceQuotas": {"default": 5}}, resourceConstraints=constraints
    )
    plugin = await throttled_plugin(config, blobs, redis_manager)
    first, second = [await throttled_ctx(make_ctx, redis_manager, plugin, name) for name in ("c1", "c2")]
    created = await first_holds_the_token(plugin, served, first, second, "project [flytesnacks]")
    await plugin.finalize(replace(first, plugin_state=created.plugin_state))
    assert (await plugin.handle(second)).info.phase == Phase.QUEUED
    await plugin.close()
