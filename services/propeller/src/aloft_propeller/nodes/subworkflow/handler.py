"""Subworkflow nodes (inline, from the closure): the child workflow's DAG runs with this node as its parent and
node paths prefixed ``{node path}-{attempt}-``. Its outputs are written to the node's attempt directory."""

from __future__ import annotations

from aloft_propeller import paths
from aloft_propeller.nodes.base import HandlerPhase, HandlerTransition, NodeContext, NodeTraits, PlainNodeHandler, Scope
from aloft_propeller.state import NodePhase


def child_scope(ctx: NodeContext) -> Scope:
    workflow = ctx.templates.subworkflow(ctx.node.workflow_node.sub_workflow_ref)
    attempt = ctx.state.attempt
    return Scope(
        workflow=workflow,
        inputs=ctx.inputs,
        prefix=f"{ctx.path}-{attempt}-",
        parent_path=ctx.path,
        parent_attempt=attempt,
    )


async def run_scope(ctx: NodeContext, scope: Scope, failed: str) -> HandlerTransition:
    """One round of a child workflow (a subworkflow's, a dynamic node's): its outputs become the node's outputs;
    when it fails, what still runs in it is aborted (``failed`` is the reason) and the node fails with its error."""
    result = await ctx.execute_dag(scope)
    if result.phase == NodePhase.SUCCEEDED and result.outputs is not None:
        uri = paths.outputs_uri(ctx.attempt_dir())
        await ctx.literals.write_literal_map(uri, result.outputs)
        return HandlerTransition(HandlerPhase.SUCCESS, outputs_uri=uri)
    if result.phase == NodePhase.FAILED:
        await ctx.abort_dag(scope, failed)
        return HandlerTransition(HandlerPhase.PERMANENT_FAILURE, error=result.error)
    return HandlerTransition.running()


class SubworkflowNodeHandler(PlainNodeHandler):
    def describe(self, ctx: NodeContext) -> NodeTraits:
        return NodeTraits(is_parent=True)

    async def handle(self, ctx: NodeContext) -> HandlerTransition:
        return await run_scope(ctx, child_scope(ctx), "subworkflow failed")

    async def abort(self, ctx: NodeContext, reason: str) -> None:
        await ctx.abort_dag(child_scope(ctx), reason)
