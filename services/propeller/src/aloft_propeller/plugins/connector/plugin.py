"""Propeller's connector plugin (Flyte's ``connector-service`` / ``agent-service``): tasks run by connector servers
over flyteidl's AsyncAgentService / SyncAgentService, routed by task type (``routing.py``).

Async connectors, per attempt: a ResourceManager token (pool of the task type, else ``default``) → CreateTask once
(the resource meta goes into the plugin state and a marker blob, so a restarted propeller resumes the task) →
GetTask polled with a backoff (``webApi.caching``) while the node is evaluated, paced by ``readRateLimiter`` with
at most ``caching.workers`` calls in flight → on SUCCEEDED the outputs (inline literals, else the ``outputs.pb`` the
connector wrote under the output prefix) → DeleteTask on abort. Sync connectors: one ExecuteTaskSync stream per
attempt. Creating is paced by ``writeRateLimiter``: an attempt that finds no token waits (WAITING_FOR_RESOURCES)
and creates on a later round. Errors as Flyte: a failed CreateTask / ExecuteTaskSync is a retryable failure;
GetTask failures are retried until ``maxSystemFailures`` in a row, then the attempt fails.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from posixpath import dirname

import grpc
from flyteidl.admin import agent_pb2
from flyteidl.core import literals_pb2, tasks_pb2

from aloft_propeller.config import ConnectorServiceConfig, PropellerConfig
from aloft_propeller.plugins.base import ErrorKind, ExecutionError, Phase, PhaseInfo, PluginAnswer, TaskExecutionContext
from aloft_propeller.plugins.connector.client import ConnectorClients, call_metadata
from aloft_propeller.plugins.connector.routing import ConnectorRoutes, Route
from aloft_propeller.plugins.connector.state import ConnectorState, Stage, read_marker, write_marker
from aloft_propeller.plugins.connector.status import TASK_FAILED, phase_of, report_of
from aloft_propeller.plugins.io import outputs_uri, read_error_document, read_inputs
from aloft_propeller.plugins.local_process.command import per_retry_unique_key
from aloft_propeller.plugins.local_process.template import TemplateParameters, render_command
from aloft_propeller.plugins.rate_limit import TokenBucket
from aloft_propeller.plugins.tokens import TokenPool
from aloft_storage import BlobStore

log = logging.getLogger(__name__)

DEFAULT_POOL = "default"


@dataclass
class _Poll:
    """The last GetTask answer of one created task and when to ask again (kept in memory; a restart polls at once)."""

    resource: agent_pb2.Resource | None = None
    next_at: float = 0.0
    interval: float = 0.0
    failures: int = 0
    last_error: str = ""


class ConnectorPlugin:
    def __init__(
        self,
        config: PropellerConfig,
        blobs: BlobStore,
        plugin_id: str = "connector-service",
        *,
        discover: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._id = plugin_id
        self._settings: ConnectorServiceConfig = (
            config.plugins.agent_service if plugin_id == "agent-service" else config.plugins.connector_service
        )
        self._blobs = blobs
        self.routes = ConnectorRoutes(self._settings)
        if discover:
            self.routes.start()
        self._clients = ConnectorClients()
        web_api = self._settings.webApi
        # The last report of each created task, least recently asked first (at most ``caching.size``).
        self._polls: OrderedDict[str, _Poll] = OrderedDict()
        self._writes = TokenBucket(web_api.writeRateLimiter.qps, web_api.writeRateLimiter.burst, clock)
        self._reads = TokenBucket(web_api.readRateLimiter.qps, web_api.readRateLimiter.burst, clock)
        self._get_slots = asyncio.Semaphore(web_api.caching.workers)
        quotas = self._settings.webApi.resourceQuotas
        constraints = self._settings.resourceConstraints
        self._pools = {name: TokenPool(name, quota, constraints) for name, quota in quotas.items() if quota > 0}

    @property
    def id(self) -> str:
        return self._id

    @property
    def task_types(self) -> tuple[str, ...]:
        return self.routes.task_types()

    def serves(self, task_type: str) -> bool:
        """Task types are discovered while propeller runs: the registry asks here for types it did not know."""
        return self.routes.serves(task_type)

    def resource_quotas(self) -> Mapping[str, int]:
        return {name: quota for pool in self._pools.values() for name, quota in pool.quotas().items()}

    def _pool(self, task_type: str) -> TokenPool | None:
        return self._pools.get(task_type) or self._pools.get(DEFAULT_POOL)

    async def close(self) -> None:
        self.routes.stop()
        await self._clients.close()

    # ---- handle ------------------------------------------------------------------------------------------------

    async def handle(self, ctx: TaskExecutionContext) -> PluginAnswer:
        state = ConnectorState.decode(ctx.plugin_state)
        if state.stage == Stage.NOT_STARTED:
            adopted = await read_marker(ctx.blobs, ctx.output_prefix)
            if adopted is None:
                return await self._start(ctx)
            log.info("attempt %s: adopting connector task created before a restart", ctx.unique_id)
            state = adopted
        return await self._monitor(ctx, state)

    async def _start(self, ctx: TaskExecutionContext) -> PluginAnswer:
        pool = self._pool(ctx.template.type)
        if pool is not None:
            waiting = await pool.acquire(ctx)
            if waiting is not None:
                return PluginAnswer(waiting, ctx.plugin_state)
        paced = self._writes.try_take()
        if paced > 0:
            limiter = self._settings.webApi.writeRateLimiter
            reason = (
                f"waiting to create the task: connector calls are paced at {limiter.qps:g}/s "
                f"(burst {limiter.burst}); next in {paced:.2f}s"
            )
            return PluginAnswer(PhaseInfo(Phase.WAITING_FOR_RESOURCES, 0, reason, datetime.now(UTC)), ctx.plugin_state)
        route = self.routes.route(ctx.template.type, ctx.template.task_type_version)
        try:
            inputs = await read_inputs(ctx)
            template = _rendered_template(ctx, inputs)
        except Exception as exc:  # noqa: BLE001 - unreadable inputs / unrenderable args: Flyte fails the create
            return _retryable(TASK_FAILED, f"failed to prepare the connector request: {exc}")
        if route.is_sync:
            return await self._execute_sync(ctx, route, template, inputs)
        return await self._create(ctx, route, template, inputs)

    async def _create(
        self, ctx: TaskExecutionContext, route: Route, template: tasks_pb2.TaskTemplate, inputs: literals_pb2.LiteralMap
    ) -> PluginAnswer:
        request = agent_pb2.CreateTaskRequest(
            inputs=inputs,
            template=template,
            output_prefix=ctx.output_prefix,
            task_execution_metadata=_execution_metadata(ctx),
        )
        deployment = route.deployment
        try:
            reply = await self._clients.async_stub(deployment).CreateTask(
                request, timeout=deployment.timeout("CreateTask"), metadata=call_metadata(deployment)
            )
        except (grpc.RpcError, OSError) as exc:
            return _retryable(TASK_FAILED, f"failed to create task from connector with {_describe(exc)}")
        state = ConnectorState(
            stage=Stage.CREATED,
            task_type=ctx.template.type,
            task_type_version=ctx.template.task_type_version,
            resource_meta=reply.resource_meta,
            output_prefix=ctx.output_prefix,
            phase_version=2,  # Flyte's launch answers QUEUED with phase version 2
        )
        await write_marker(ctx.blobs, ctx.output_prefix, state)
        log.info("attempt %s: created on connector %s", ctx.unique_id, deployment.endpoint)
        info = PhaseInfo(Phase.QUEUED, state.phase_version, "launched", datetime.now(UTC))
        return PluginAnswer(info, state.encode())

    async def _execute_sync(
        self, ctx: TaskExecutionContext, route: Route, template: tasks_pb2.TaskTemplate, inputs: literals_pb2.LiteralMap
    ) -> PluginAnswer:
        header = agent_pb2.CreateRequestHeader(
            template=template, output_prefix=ctx.output_prefix, task_execution_metadata=_execution_metadata(ctx)
        )
        deployment = route.deployment
        try:
            resource = await self._sync_call(route, header, inputs)
        except (grpc.RpcError, OSError, ValueError) as exc:
            return _retryable(TASK_FAILED, f"failed to execute task from connector with {_describe(exc)}")
        log.info("attempt %s: executed on sync connector %s", ctx.unique_id, deployment.endpoint)
        state = ConnectorState(task_type=ctx.template.type, task_type_version=ctx.template.task_type_version)
        return await self._answer(ctx, state, resource)

    async def _sync_call(
        self, route: Route, header: agent_pb2.CreateRequestHeader, inputs: literals_pb2.LiteralMap
    ) -> agent_pb2.Resource:
        async def requests() -> AsyncIterator[agent_pb2.ExecuteTaskSyncRequest]:
            yield agent_pb2.ExecuteTaskSyncRequest(header=header)
            yield agent_pb2.ExecuteTaskSyncRequest(inputs=inputs)

        deployment = route.deployment
        stream = self._clients.sync_stub(deployment).ExecuteTaskSync(
            requests(), timeout=deployment.timeout("ExecuteTaskSync"), metadata=call_metadata(deployment)
        )
        resource: agent_pb2.Resource | None = None
        async for reply in stream:
            if reply.HasField("header"):
                resource = agent_pb2.Resource()
                resource.CopyFrom(reply.header.resource)
            elif resource is None:
                raise ValueError("expected header in the response, but got none")
            else:  # outputs streamed after the header are merged into the resource's outputs
                for name, literal in reply.outputs.literals.items():
                    resource.outputs.literals[name].CopyFrom(literal)
        if resource is None:
            raise ValueError("expected header in the response, but got none")
        return resource

    async def _monitor(self, ctx: TaskExecutionContext, state: ConnectorState) -> PluginAnswer:
        poll = self._remembered(ctx.unique_id)
        now = time.monotonic()
        # Due and a read token free: ask the connector; else answer from the last report (Flyte's resource cache).
        if (poll.resource is None or now >= poll.next_at) and self._reads.try_take() == 0:
            async with self._get_slots:
                await self._poll(state, poll, now)
        caching = self._settings.webApi.caching
        if poll.failures > caching.maxSystemFailures:
            message = f"the connector failed to report the task {poll.failures} times in a row: {poll.last_error}"
            error = ExecutionError("CacheFailed", message, ErrorKind.USER)
            info = PhaseInfo(Phase.PERMANENT_FAILURE, state.phase_version, message, datetime.now(UTC), error=error)
            return PluginAnswer(info, state.encode())
        if poll.resource is None:  # not reported yet (the connector is unreachable): still queued
            info = PhaseInfo(Phase.QUEUED, state.phase_version, "job submitted", datetime.now(UTC))
            return PluginAnswer(info, state.encode())
        return await self._answer(ctx, state, poll.resource)

    def _remembered(self, unique_id: str) -> _Poll:
        poll = self._polls.get(unique_id)
        if poll is None:
            poll = self._polls[unique_id] = _Poll()
            while len(self._polls) > self._settings.webApi.caching.size:
                self._polls.popitem(last=False)  # forgotten: its next handle asks the connector at once
        self._polls.move_to_end(unique_id)
        return poll

    async def _poll(self, state: ConnectorState, poll: _Poll, now: float) -> None:
        route = self.routes.route(state.task_type, state.task_type_version)
        deployment = route.deployment
        category = agent_pb2.TaskCategory(name=state.task_type, version=state.task_type_version)
        request = agent_pb2.GetTaskRequest(
            task_type=state.task_type,
            task_category=category,
            resource_meta=state.resource_meta,
            output_prefix=state.output_prefix,
        )
        caching = self._settings.webApi.caching
        initial, ceiling = caching.initialPollInterval.total_seconds(), caching.resyncInterval.total_seconds()
        try:
            reply = await self._clients.async_stub(deployment).GetTask(
                request, timeout=deployment.timeout("GetTask"), metadata=call_metadata(deployment)
            )
        except (grpc.RpcError, OSError) as exc:
            poll.failures += 1
            poll.last_error = f"failed to get task from connector with {_describe(exc)}"
            log.warning("GetTask on %s failed (%d in a row): %s", deployment.endpoint, poll.failures, poll.last_error)
            poll.interval = min(max(poll.interval * 2, initial), ceiling)
            poll.next_at = now + poll.interval
            return
        changed = poll.resource is None or report_of(poll.resource) != report_of(reply.resource)
        poll.resource, poll.failures, poll.last_error = reply.resource, 0, ""
        # Back off while nothing changes; a change means the task is moving, so look again soon.
        poll.interval = initial if changed else min(max(poll.interval * 2, initial), ceiling)
        poll.next_at = now + poll.interval

    async def _answer(
        self, ctx: TaskExecutionContext, state: ConnectorState, resource: agent_pb2.Resource
    ) -> PluginAnswer:
        state = state.reported(report_of(resource))
        info = phase_of(resource, state.phase_version)
        if info.phase == Phase.SUCCESS:
            missing = await _put_outputs(ctx, resource)
            if missing is not None:
                phase = Phase.RETRYABLE_FAILURE if missing.recoverable else Phase.PERMANENT_FAILURE
                info = replace(info, phase=phase, reason=missing.message, error=missing)
        return PluginAnswer(info, state.encode())

    # ---- abort / finalize ---------------------------------------------------------------------------------------

    async def abort(self, ctx: TaskExecutionContext, reason: str) -> None:
        state = ConnectorState.decode(ctx.plugin_state)
        if state.stage == Stage.NOT_STARTED:
            state = await read_marker(ctx.blobs, ctx.output_prefix) or state
        if state.stage == Stage.CREATED:
            await self._delete(state)
        await self._release(ctx)

    async def _delete(self, state: ConnectorState) -> None:
        deployment = self.routes.route(state.task_type, state.task_type_version).deployment
        category = agent_pb2.TaskCategory(name=state.task_type, version=state.task_type_version)
        request = agent_pb2.DeleteTaskRequest(
            task_type=state.task_type, task_category=category, resource_meta=state.resource_meta
        )
        try:
            await self._clients.async_stub(deployment).DeleteTask(
                request, timeout=deployment.timeout("DeleteTask"), metadata=call_metadata(deployment)
            )
        except grpc.RpcError as exc:
            if isinstance(exc, grpc.Call) and exc.code() == grpc.StatusCode.NOT_FOUND:
                return  # already gone
            # Raised, as Flyte: the abort is retried by the next round rather than leaving the task running.
            raise ConnectorAbortFailed(f"failed to delete task from connector with {_describe(exc)}") from exc

    async def finalize(self, ctx: TaskExecutionContext) -> None:
        self._polls.pop(ctx.unique_id, None)
        await self._release(ctx)

    async def _release(self, ctx: TaskExecutionContext) -> None:
        pool = self._pool(ctx.template.type)
        if pool is not None:
            await pool.release(ctx)


class ConnectorAbortFailed(RuntimeError):
    """DeleteTask failed: the abort is not done (the connector's task may still run)."""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, grpc.aio.AioRpcError):
        return f"{exc.code().name}: {exc.details()}"
    return str(exc)


def _retryable(code: str, message: str) -> PluginAnswer:
    error = ExecutionError(code, message, ErrorKind.USER, recoverable=True)
    return PluginAnswer(PhaseInfo(Phase.RETRYABLE_FAILURE, 0, message, datetime.now(UTC), error=error))


def _rendered_template(ctx: TaskExecutionContext, inputs: literals_pb2.LiteralMap) -> tasks_pb2.TaskTemplate:
    """The template sent to the connector: container args rendered as Flyte's template.Render ({{.input}}, ...)."""
    template = tasks_pb2.TaskTemplate()
    template.CopyFrom(ctx.template)
    if template.HasField("container") and template.container.args:
        execution = ctx.task_execution_id.node_execution_id.execution_id
        params = TemplateParameters(
            inputs_uri=ctx.inputs_uri,
            input_prefix=dirname(ctx.inputs_uri),
            output_prefix=ctx.output_prefix,
            raw_output_prefix=ctx.raw_output_prefix,
            checkpoint_prefix=ctx.checkpoint_prefix,
            prev_checkpoint_prefix=ctx.prev_checkpoint_prefix,
            per_retry_unique_key=per_retry_unique_key(ctx.unique_id),
            namespace=f"{execution.project}-{execution.domain}",
        )
        rendered = render_command(list(template.container.args), params, inputs)
        del template.container.args[:]
        template.container.args.extend(rendered)
    return template


def _execution_metadata(ctx: TaskExecutionContext) -> agent_pb2.TaskExecutionMetadata:
    """Flyte's buildTaskExecutionMetadata: who runs the attempt, where, with which labels and environment."""
    execution = ctx.task_execution_id.node_execution_id.execution_id
    metadata = agent_pb2.TaskExecutionMetadata(
        task_execution_id=ctx.task_execution_id,
        namespace=f"{execution.project}-{execution.domain}",
        labels=ctx.labels,
        annotations=ctx.annotations,
        environment_variables=ctx.envs,
        max_attempts=ctx.template.metadata.retries.retries + 1,
        interruptible=ctx.interruptible,
    )
    security = ctx.security_context
    if security is not None and security.HasField("run_as"):
        metadata.identity.CopyFrom(security.run_as)
        metadata.k8s_service_account = security.run_as.k8s_service_account
    return metadata


async def _put_outputs(ctx: TaskExecutionContext, resource: agent_pb2.Resource) -> ExecutionError | None:
    """Flyte's writeOutput: inline outputs become ``outputs.pb``; without them the connector must have written it
    (or ``error.pb``). None when the attempt's outputs are in place."""
    if not ctx.template.interface.outputs.variables:
        return None
    if resource.HasField("outputs"):
        await ctx.blobs.write_proto(outputs_uri(ctx.output_prefix), resource.outputs)
        return None
    if await ctx.blobs.exists(outputs_uri(ctx.output_prefix)):
        return None
    reported = await read_error_document(ctx.blobs, ctx.output_prefix)
    if reported is not None:
        return reported
    message = f"the connector reported success but wrote no outputs under {ctx.output_prefix}"
    return ExecutionError("OutputsNotFound", message, ErrorKind.USER, recoverable=True)
