"""Branch nodes: evaluate if / else-if / else once (the choice is persisted), then run the chosen node as a child.
The branch succeeds with the child's outputs and fails with the child's error."""

from __future__ import annotations

from flyteidl.core import workflow_pb2

from aloft_propeller import paths
from aloft_propeller.nodes.base import HandlerPhase, HandlerTransition, NodeContext, NodeTraits, PlainNodeHandler
from aloft_propeller.nodes.branch.condition import evaluate
from aloft_propeller.nodes.errors import BranchEvalError
from aloft_propeller.state import NodePhase


def choose(node: workflow_pb2.Node, ctx: NodeContext) -> workflow_pb2.Node:
    block = node.branch_node.if_else
    for case in [block.case, *block.other]:
        if evaluate(node.id, case.condition, ctx.inputs):
            return case.then_node
    if block.HasField("else_node"):
        return block.else_node
    if block.HasField("error"):
        raise BranchEvalError(node.id, block.error.message or "no branch condition matched")
    raise BranchEvalError(node.id, "no branch condition matched and there is no else")


def _child(node: workflow_pb2.Node, child_id: str) -> workflow_pb2.Node:
    block = node.branch_node.if_else
    candidates = [block.case.then_node, *(case.then_node for case in block.other)]
    if block.HasField("else_node"):
        candidates.append(block.else_node)
    for candidate in candidates:
        if candidate.id == child_id:
            return candidate
    raise BranchEvalError(node.id, f"chosen node [{child_id}] is no longer in the branch")


class BranchNodeHandler(PlainNodeHandler):
    def describe(self, ctx: NodeContext) -> NodeTraits:
        return NodeTraits(is_parent=True)

    async def handle(self, ctx: NodeContext) -> HandlerTransition:
        if not ctx.state.branch_taken:
            # Persist the decision before the child starts, so a replay never takes another branch.
            return HandlerTransition(HandlerPhase.RUNNING, branch_taken=choose(ctx.node, ctx).id)
        child = _child(ctx.node, ctx.state.branch_taken)
        child_state = await ctx.execute_child(ctx, child, paths.child_path(ctx.path, ctx.state.attempt, child.id))
        if child_state.phase == NodePhase.SUCCEEDED:
            return HandlerTransition(HandlerPhase.SUCCESS, outputs_uri=child_state.outputs_uri)
        if child_state.phase in (NodePhase.FAILED, NodePhase.TIMED_OUT, NodePhase.ABORTED):
            return HandlerTransition(HandlerPhase.PERMANENT_FAILURE, error=child_state.error)
        return HandlerTransition.running()

    async def abort(self, ctx: NodeContext, reason: str) -> None:
        if ctx.state.branch_taken:
            child = _child(ctx.node, ctx.state.branch_taken)
            await ctx.abort_child(ctx, child, paths.child_path(ctx.path, ctx.state.attempt, child.id), reason)
