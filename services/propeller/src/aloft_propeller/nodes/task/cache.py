"""The cache step of a task node (Flyte's nodes/task/handler.go steps: cache check → plugin → cache write).

``handle_cached`` wraps one round of a cacheable task: before the plugin has started it checks the catalog (hit:
write the stored outputs as this attempt's outputs and succeed without running anything; another owner holds the
reservation: stay RUNNING and re-check next round); while the plugin runs it heartbeats the reservation; when the
plugin succeeds it stores the outputs, and any terminal phase releases the reservation. The node events carry the
outcome in ``task_node_metadata`` (cache_status, catalog_key, reservation_status).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

from aloft_auth.client import outgoing_interceptors
from flyteidl.core import literals_pb2

from aloft_propeller import paths
from aloft_propeller.catalog import keys
from aloft_propeller.catalog.client import build_catalog_client
from aloft_propeller.catalog.task_cache import Decision, TaskCache, cache_key, is_serializable
from aloft_propeller.config import PropellerConfig
from aloft_propeller.nodes.base import HandlerPhase, HandlerTransition, NodeContext
from aloft_propeller.plugins.base import Phase, TaskExecutionContext

RunRound = Callable[[], Awaitable[HandlerTransition]]


def build_task_cache(config: PropellerConfig) -> TaskCache:
    client = build_catalog_client(
        config.catalog_cache, config.propeller.datacatalogEndpoint, outgoing_interceptors(config.auth)
    )
    # Flyte heartbeats at the re-evaluation period: a running owner extends its reservation every round.
    return TaskCache(client, config.propeller.workflow_reeval_duration)


def _plugin_started(ctx: NodeContext) -> bool:
    """Has the plugin reported any phase for this node yet? Until it has, the cache decides first."""
    return ctx.state.plugin_phase != Phase.UNDEFINED or bool(ctx.state.plugin_state)


async def handle_cached(
    cache: TaskCache, ctx: NodeContext, tctx: TaskExecutionContext, run: RunRound
) -> HandlerTransition:
    key = cache_key(tctx.template, ctx.inputs)
    owner = tctx.unique_id
    overwrite = ctx.execution.request.config.overwrite_cache
    serializable = is_serializable(tctx.template)
    if not _plugin_started(ctx):
        pre = await cache.before_start(key, owner, overwrite=overwrite, serializable=serializable)
        if pre.decision == Decision.HIT and pre.outputs is not None:
            return await _serve_hit(ctx, tctx, pre.outputs, pre.metadata)
        if pre.decision == Decision.WAIT:
            return dataclasses.replace(HandlerTransition.running(), task_node_metadata=pre.metadata)
    elif serializable:
        await cache.heartbeat(key, owner)
    transition = await run()
    return await _after_round(cache, ctx, tctx, key, transition, overwrite=overwrite, serializable=serializable)


async def _serve_hit(
    ctx: NodeContext, tctx: TaskExecutionContext, outputs: literals_pb2.LiteralMap, metadata: object
) -> HandlerTransition:
    outputs_uri = paths.outputs_uri(tctx.output_prefix)
    await ctx.execution.write_literal_map(outputs_uri, outputs)
    return HandlerTransition(HandlerPhase.SUCCESS, outputs_uri=outputs_uri, task_node_metadata=metadata)  # type: ignore[arg-type]


async def _after_round(
    cache: TaskCache,
    ctx: NodeContext,
    tctx: TaskExecutionContext,
    key: keys.CatalogKey,
    transition: HandlerTransition,
    *,
    overwrite: bool,
    serializable: bool,
) -> HandlerTransition:
    if transition.phase == HandlerPhase.RUNNING:
        return transition
    metadata = None
    # A dynamic task succeeds with futures.pb, not outputs: nothing to cache yet (its children produce them).
    futures = f"{tctx.output_prefix}/futures.pb"
    if transition.phase == HandlerPhase.SUCCESS and not await ctx.execution.blobs.exists(futures):
        outputs = await ctx.execution.read_literal_map(transition.outputs_uri)
        metadata = await cache.after_success(key, outputs, tctx.task_execution_id, overwrite=overwrite)
    if serializable:
        released = await cache.release(key, tctx.unique_id)
        if metadata is not None:
            metadata.reservation_status = released  # type: ignore[assignment]
    return dataclasses.replace(transition, task_node_metadata=metadata)


async def release_on_abort(cache: TaskCache, ctx: NodeContext, tctx: TaskExecutionContext) -> None:
    if is_serializable(tctx.template):
        await cache.release(cache_key(tctx.template, ctx.inputs), tctx.unique_id)
