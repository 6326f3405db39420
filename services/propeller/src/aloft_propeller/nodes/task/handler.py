"""Task nodes: build the attempt's TaskExecutionContext, ask the plugin, map its answer to a node transition.

Order per round (flytepropeller nodes/task/handler.go): plugin → (terminal: finalize) → the executor records
events and persists. Attempt identity is deterministic, so a replayed ``handle`` adopts the running attempt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from aloft.dataplane.v1 import dataplane_pb2
from flyteidl.core import identifier_pb2, tasks_pb2

from aloft_propeller import paths
from aloft_propeller.catalog.task_cache import TaskCache, is_cacheable
from aloft_propeller.config import PropellerConfig
from aloft_propeller.execution_error import ErrorKind, ExecutionError
from aloft_propeller.nodes.base import HandlerPhase, HandlerTransition, InputsBlob, NodeContext, NodeTraits
from aloft_propeller.nodes.errors import NodeError
from aloft_propeller.nodes.task.cache import build_task_cache, handle_cached, release_on_abort
from aloft_propeller.plugins import io
from aloft_propeller.plugins.base import Phase, Plugin, Resources, TaskExecutionContext
from aloft_propeller.plugins.resources import attempt_resources
from aloft_service.errors import AloftError

DECK_FILE = "deck.html"


class UnknownTaskTypeError(NodeError):
    code = "UnsupportedTaskType"


_RESOURCE_FIELDS = {
    tasks_pb2.Resources.CPU: "cpu",
    tasks_pb2.Resources.MEMORY: "memory",
    tasks_pb2.Resources.GPU: "gpu",
    tasks_pb2.Resources.EPHEMERAL_STORAGE: "ephemeral_storage",
}


def _resources(
    entries: list[tasks_pb2.Resources.ResourceEntry], default: dataplane_pb2.ResourceQuantities
) -> Resources:
    values = {"cpu": default.cpu, "memory": default.memory, "gpu": default.gpu}
    values["ephemeral_storage"] = default.ephemeral_storage
    for entry in entries:
        name = _RESOURCE_FIELDS.get(entry.name)
        if name:
            values[name] = entry.value
    return Resources(**values)


@dataclass(frozen=True)
class _TaskConstants:
    """The parts of a task context that depend only on the task template and the execution's config, made once per
    (template, config) instead of on every visit of every attempt (a visit's largest share of the context's work:
    four resource mappings and three proto maps copied into dicts)."""

    template: tasks_pb2.TaskTemplate  # held: the cache is keyed by identity, which these references keep valid
    config: dataplane_pb2.ExecutionConfig
    timeout: timedelta | None
    interruptible: bool
    envs: dict[str, str]
    labels: dict[str, str]
    annotations: dict[str, str]
    resource_requests: Resources
    resource_limits: Resources
    platform_resource_defaults: Resources
    platform_resource_limits: Resources


def _task_constants(template: tasks_pb2.TaskTemplate, config: dataplane_pb2.ExecutionConfig) -> _TaskConstants:
    timeout = template.metadata.timeout.ToTimedelta() if template.metadata.HasField("timeout") else None
    interruptible = template.metadata.interruptible
    if config.HasField("interruptible"):
        interruptible = config.interruptible.value
    return _TaskConstants(
        template=template,
        config=config,
        timeout=timeout if timeout and timeout > timedelta(0) else None,
        interruptible=interruptible,
        envs=dict(config.envs),
        labels=dict(config.labels),
        annotations=dict(config.annotations),
        resource_requests=_resources(list(template.container.resources.requests), config.task_resource_defaults),
        resource_limits=_resources(list(template.container.resources.limits), config.task_resource_limits),
        platform_resource_defaults=_resources([], config.task_resource_defaults),
        platform_resource_limits=_resources([], config.task_resource_limits),
    )


_CONSTANTS_CACHE_SIZE = 1024


def _phase_of(phase: Phase) -> HandlerPhase:
    if phase == Phase.SUCCESS:
        return HandlerPhase.SUCCESS
    if phase == Phase.RETRYABLE_FAILURE:
        return HandlerPhase.RETRYABLE_FAILURE
    if phase == Phase.PERMANENT_FAILURE:
        return HandlerPhase.PERMANENT_FAILURE
    return HandlerPhase.RUNNING


class TaskNodeHandler:
    def __init__(self, cache: TaskCache | None = None, config: PropellerConfig | None = None) -> None:
        self._cache = cache
        self._config = config  # setup() builds the cache (its datacatalog client) from it
        # (id(template), id(config)) → their constants; an entry is used only while it holds those very objects.
        self._constants: dict[tuple[int, int], _TaskConstants] = {}

    async def setup(self) -> None:
        if self._cache is None and self._config is not None:
            self._cache = build_task_cache(self._config)

    async def close(self) -> None:
        """Close the datacatalog client (server.py calls it at stop, through the node handler registry)."""
        if self._cache is not None:
            await self._cache.client.close()

    def finalize_required(self) -> bool:
        return False  # the plugin is finalized as soon as it reports a terminal phase

    def describe(self, ctx: NodeContext) -> NodeTraits:
        return NodeTraits(task_id=ctx.node.task_node.reference_id, plugin_attempt=True)

    async def handle(self, ctx: NodeContext) -> HandlerTransition:
        plugin, tctx = self._task_context(ctx)
        if is_cacheable(tctx.template):
            return await handle_cached(self._task_cache(), ctx, tctx, lambda: self._run(ctx, plugin, tctx))
        return await self._run(ctx, plugin, tctx)

    def _task_cache(self) -> TaskCache:
        if self._cache is None:
            if self._config is None:
                raise NodeError("task", "cacheable tasks need the task handler built with the propeller config")
            self._cache = build_task_cache(self._config)  # setup() was not called (a handler driven directly)
        return self._cache

    async def _run(self, ctx: NodeContext, plugin: Plugin, tctx: TaskExecutionContext) -> HandlerTransition:
        if ctx.state.plugin_phase <= Phase.WAITING_FOR_RESOURCES and not getattr(plugin, "writes_inputs_blob", False):
            await io.ensure_inputs_blob(tctx, ctx.inputs)  # before the attempt starts: its process reads it by path
        transition = await plugin.handle(tctx)
        info = transition.info
        if info.phase.is_terminal:
            await plugin.finalize(tctx)
        error = None
        if info.error is not None:
            error = info.error
        elif info.phase in (Phase.RETRYABLE_FAILURE, Phase.PERMANENT_FAILURE):
            error = ExecutionError("TaskFailed", info.reason or "task failed", ErrorKind.SYSTEM)
        deck_uri = ""
        if info.phase == Phase.SUCCESS and await ctx.blobs.exists(f"{tctx.output_prefix}/{DECK_FILE}"):
            deck_uri = f"{tctx.output_prefix}/{DECK_FILE}"
        return HandlerTransition(
            phase=_phase_of(info.phase),
            error=error,
            deck_uri=deck_uri,
            outputs_uri=paths.outputs_uri(tctx.output_prefix) if info.phase == Phase.SUCCESS else "",
            task_info=info,
            plugin_state=transition.plugin_state,
        )

    async def abort(self, ctx: NodeContext, reason: str) -> None:
        plugin, tctx = self._task_context(ctx)
        await plugin.abort(tctx, reason)
        await plugin.finalize(tctx)
        if is_cacheable(tctx.template):
            await release_on_abort(self._task_cache(), ctx, tctx)

    async def finalize(self, ctx: NodeContext) -> None:
        return None

    def _constants_of(self, template: tasks_pb2.TaskTemplate, config: dataplane_pb2.ExecutionConfig) -> _TaskConstants:
        key = (id(template), id(config))
        constants = self._constants.get(key)
        if constants is None or constants.template is not template or constants.config is not config:
            if len(self._constants) >= _CONSTANTS_CACHE_SIZE:
                self._constants.clear()
            constants = self._constants[key] = _task_constants(template, config)
        return constants

    def _task_context(self, ctx: NodeContext) -> tuple[Plugin, TaskExecutionContext]:
        ectx = ctx.execution
        template = ctx.task_template()
        try:
            plugin = ctx.plugins.for_task_type(template.type)
        except (LookupError, ValueError, AloftError) as exc:
            raise UnknownTaskTypeError(ctx.node.id, f"no plugin for task type {template.type!r}: {exc}") from exc
        attempt = ctx.state.attempt
        attempt_uri = paths.attempt_dir(ectx.execution_uri, ctx.path, attempt)
        unique_id = paths.unique_attempt_id(ectx.key.name, ctx.path, attempt)
        previous = paths.checkpoint_prefix(paths.attempt_dir(ectx.execution_uri, ctx.path, attempt - 1))
        config = ectx.request.config
        constants = self._constants_of(template, config)
        task_execution_id = identifier_pb2.TaskExecutionIdentifier(
            task_id=template.id,
            node_execution_id=identifier_pb2.NodeExecutionIdentifier(node_id=ctx.path, execution_id=ectx.execution_id),
            retry_attempt=attempt,
        )
        tctx = TaskExecutionContext(
            task_execution_id=task_execution_id,
            unique_id=unique_id,
            template=template,
            inputs_uri=ctx.inputs_uri,
            output_prefix=attempt_uri,
            raw_output_prefix=f"{ectx.raw_output_prefix}/{unique_id}",
            checkpoint_prefix=paths.checkpoint_prefix(attempt_uri),
            prev_checkpoint_prefix=previous if attempt > 0 else "",
            blobs=ctx.blobs,
            attempt=attempt,
            plugin_state=ctx.state.plugin_state,
            # Copies: a context's dicts are its own, as when they were made per visit.
            envs={**constants.envs, **ctx.task_envs},
            labels=dict(constants.labels),
            annotations=dict(constants.annotations),
            interruptible=constants.interruptible,
            resource_requests=constants.resource_requests,
            resource_limits=constants.resource_limits,
            timeout=constants.timeout,
            workflow_name=ectx.request.workflow_id.name,
            launch_plan_name=ectx.request.launch_plan_id.name,
            resources=attempt_resources(ctx.resources, plugin.id, ectx.key.project, ectx.key.domain, ectx.key.name),
            security_context=config.security_context if config.HasField("security_context") else None,
            platform_resource_defaults=constants.platform_resource_defaults,
            platform_resource_limits=constants.platform_resource_limits,
            # Plugins take the inputs from memory, not from the blob (an array element's is not written yet).
            inputs=ctx.inputs if ctx.inputs_blob != InputsBlob.OTHER else None,
            inputs_pending=ctx.inputs_blob == InputsBlob.PENDING,
        )
        return plugin, tctx
