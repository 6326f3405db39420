"""Launch-plan nodes: the node starts a child execution through admin, follows it to a terminal phase and takes
its outputs (flytepropeller nodes/subworkflow/launchplan.go).

Rounds: QUEUED → wait one round (admin must have recorded this node execution, the child's parent, before the
child can be created); then CreateExecution (ALREADY_EXISTS adopts), remembered in the node's opaque state; then
GetExecution until the child is terminal. Aborting the node terminates the child.
"""

from __future__ import annotations

import logging

import grpc
from flyteidl.core import execution_pb2, identifier_pb2, literals_pb2

from aloft_propeller import paths
from aloft_propeller.execution_error import ErrorKind, ExecutionError
from aloft_propeller.nodes.base import HandlerPhase, HandlerTransition, NodeContext, NodeTraits, PlainNodeHandler
from aloft_propeller.nodes.launchplan.admin import (
    ChildStatus,
    Launcher,
    LaunchRejected,
    LaunchRequest,
    ParentNotRecorded,
    child_execution_name,
)
from aloft_propeller.state import NodePhase

log = logging.getLogger(__name__)

LAUNCHED = b"launched"
_PHASE = execution_pb2.WorkflowExecution
_ERROR_KINDS = {execution_pb2.ExecutionError.SYSTEM: ErrorKind.SYSTEM}


def child_execution_id(ctx: NodeContext) -> identifier_pb2.WorkflowExecutionIdentifier:
    parent = ctx.execution.execution_id
    return identifier_pb2.WorkflowExecutionIdentifier(
        project=parent.project,
        domain=parent.domain,
        org=parent.org,
        name=child_execution_name(parent.name, ctx.path, ctx.state.attempt),
    )


def _launch_request(ctx: NodeContext) -> LaunchRequest:
    request = ctx.execution.request
    config = request.config
    return LaunchRequest(
        child_id=child_execution_id(ctx),
        launch_plan=ctx.node.workflow_node.launchplan_ref,
        inputs=ctx.inputs,
        parent_node=identifier_pb2.NodeExecutionIdentifier(node_id=ctx.path, execution_id=request.id),
        principal=request.principal,
        labels=dict(config.labels),
        annotations=dict(config.annotations),
        envs=dict(config.envs),
        max_parallelism=config.max_parallelism,
        overwrite_cache=config.overwrite_cache,
        raw_output_prefix=config.raw_output_prefix,
        security_context=config.security_context if config.HasField("security_context") else None,
    )


class LaunchPlanNodeHandler(PlainNodeHandler):
    def __init__(self, launcher: Launcher) -> None:
        self._launcher = launcher

    def describe(self, ctx: NodeContext) -> NodeTraits:
        """Node events carry the child (workflow_node_metadata) once admin accepted it."""
        return NodeTraits(child_execution=child_execution_id(ctx) if ctx.state.plugin_state == LAUNCHED else None)

    async def handle(self, ctx: NodeContext) -> HandlerTransition:
        if ctx.state.phase == NodePhase.QUEUED:
            return HandlerTransition.running()  # the QUEUED/RUNNING events reach admin before the child is created
        if ctx.state.plugin_state != LAUNCHED:
            return await self._launch(ctx)
        child_id = child_execution_id(ctx)
        try:
            status = await self._launcher.status(child_id)
        except LaunchRejected as exc:
            if exc.code == grpc.StatusCode.NOT_FOUND:
                return await self._launch(ctx)  # admin lost it (or never committed it): launch again
            return HandlerTransition.failure("RuntimeExecutionError", exc.message, ErrorKind.SYSTEM)
        return await self._follow(ctx, child_id, status)

    async def _launch(self, ctx: NodeContext) -> HandlerTransition:
        try:
            await self._launcher.launch(_launch_request(ctx))
        except ParentNotRecorded:
            return HandlerTransition.running()
        except LaunchRejected as exc:
            return HandlerTransition.failure("LaunchPlanLaunchFailed", f"[{ctx.node.id}] {exc.message}")
        return HandlerTransition(HandlerPhase.RUNNING, plugin_state=LAUNCHED)

    async def _follow(
        self, ctx: NodeContext, child_id: identifier_pb2.WorkflowExecutionIdentifier, status: ChildStatus
    ) -> HandlerTransition:
        if status.phase == _PHASE.SUCCEEDED:
            outputs = await self._child_outputs(ctx, child_id, status)
            uri = paths.outputs_uri(ctx.attempt_dir())
            await ctx.literals.write_literal_map(uri, outputs)
            return HandlerTransition(HandlerPhase.SUCCESS, outputs_uri=uri)
        if status.phase in (_PHASE.FAILED, _PHASE.TIMED_OUT):
            return HandlerTransition(HandlerPhase.PERMANENT_FAILURE, error=_child_error(child_id, status))
        if status.phase == _PHASE.ABORTED:
            message = f"child execution {child_id.name} was aborted"
            return HandlerTransition.failure("ChildExecutionAborted", message)
        return HandlerTransition.running()

    async def _child_outputs(
        self, ctx: NodeContext, child_id: identifier_pb2.WorkflowExecutionIdentifier, status: ChildStatus
    ) -> literals_pb2.LiteralMap:
        if status.outputs_uri:
            return await ctx.literals.read_literal_map(status.outputs_uri)
        if status.inline_outputs is not None:
            return status.inline_outputs
        return await self._launcher.outputs(child_id)

    async def abort(self, ctx: NodeContext, reason: str) -> None:
        if ctx.state.phase == NodePhase.QUEUED:
            return  # never launched
        await self._launcher.terminate(child_execution_id(ctx), reason)


def _child_error(child_id: identifier_pb2.WorkflowExecutionIdentifier, status: ChildStatus) -> ExecutionError:
    if status.error is None:
        return ExecutionError("ChildExecutionFailed", f"child execution {child_id.name} failed", ErrorKind.USER)
    kind = _ERROR_KINDS.get(status.error.kind, ErrorKind.USER)
    message = f"child execution {child_id.name} failed: {status.error.message}"
    return ExecutionError(status.error.code or "ChildExecutionFailed", message, kind)
