"""Dynamic nodes (flytepropeller nodes/dynamic/handler.go), wrapping the task node handler.

Phase 1: the task runs as any task node. If it succeeds having written ``futures.pb`` (a DynamicJobSpec) instead
of outputs, the job is compiled against the parent task's interface (with the tasks and subworkflows it declares),
the compiled closure is offloaded to the attempt directory and its URI kept in the node state; the executor reports
DYNAMIC_RUNNING with the compiled workflow (admin's GetDynamicNodeWorkflow), and every later node event marks the
node a dynamic parent. Phase 2: the workflow's DAG runs as children (paths ``{node}-{attempt}-{child}``) and its
outputs become the node's outputs.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace

from flyteidl.core import compiler_pb2, dynamic_job_pb2, identifier_pb2, literals_pb2
from flyteidl.event import event_pb2

from aloft_compiler import compile_dynamic_job
from aloft_propeller.execution_error import ErrorKind, ExecutionError
from aloft_propeller.nodes.base import HandlerPhase, HandlerTransition, NodeContext, NodeHandler, NodeTraits, Scope
from aloft_propeller.nodes.bindings import resolve_bindings
from aloft_propeller.nodes.dynamic.launchplans import (
    LaunchPlanNotFound,
    LaunchPlanSource,
    LaunchPlanUnavailable,
    referenced_launch_plans,
)
from aloft_propeller.nodes.errors import BindingResolutionError, NodeError
from aloft_propeller.nodes.subworkflow.handler import run_scope

FUTURES_FILE = "futures.pb"
COMPILED_FILE = "dynamic_compiled.pb"
_CACHE_SIZE = 256


class DynamicNodeHandler:
    def __init__(self, task_handler: NodeHandler, launch_plans: LaunchPlanSource | None = None) -> None:
        self._task = task_handler
        self._launch_plans = launch_plans  # None: dynamic jobs calling launch plans fail to compile
        self._closures: OrderedDict[str, compiler_pb2.CompiledWorkflowClosure] = OrderedDict()

    async def setup(self) -> None:
        await self._task.setup()

    def finalize_required(self) -> bool:
        return self._task.finalize_required()

    def describe(self, ctx: NodeContext) -> NodeTraits:
        """A task node until its job is compiled; then a parent whose attempt runs children, not a plugin."""
        running_children = bool(ctx.state.dynamic_workflow_uri)
        traits = self._task.describe(ctx)
        if not running_children and not traits.is_parent:
            return traits  # the task's own (asked several times per visit: no copy)
        plugin_attempt = traits.plugin_attempt and not running_children
        return replace(traits, plugin_attempt=plugin_attempt, is_parent=running_children)

    async def handle(self, ctx: NodeContext) -> HandlerTransition:
        if ctx.state.dynamic_workflow_uri:
            return await self._run_children(ctx, ctx.state.dynamic_workflow_uri)
        transition = await self._task.handle(ctx)
        if transition.phase != HandlerPhase.SUCCESS:
            return transition
        attempt_uri = ctx.attempt_dir()
        futures_uri = f"{attempt_uri}/{FUTURES_FILE}"
        if not await ctx.blobs.exists(futures_uri):
            return transition  # an ordinary task
        return await self._compile(ctx, transition, futures_uri, f"{attempt_uri}/{COMPILED_FILE}")

    async def abort(self, ctx: NodeContext, reason: str) -> None:
        if ctx.state.dynamic_workflow_uri:
            closure = await self._closure(ctx, ctx.state.dynamic_workflow_uri)
            await ctx.abort_dag(self._scope(ctx, closure), reason)
            return
        await self._task.abort(ctx, reason)

    async def finalize(self, ctx: NodeContext) -> None:
        await self._task.finalize(ctx)

    # ---- phases ----------------------------------------------------------------------------------------------

    async def _compile(
        self, ctx: NodeContext, transition: HandlerTransition, futures_uri: str, compiled_uri: str
    ) -> HandlerTransition:
        job = await ctx.blobs.read_proto(futures_uri, dynamic_job_pb2.DynamicJobSpec)
        if not job.nodes:
            return await self._literal_outputs(ctx, transition, job)
        template = ctx.task_template()
        workflow_id = identifier_pb2.Identifier(
            resource_type=identifier_pb2.WORKFLOW,
            project=template.id.project,
            domain=template.id.domain,
            name=f"{template.id.name}.{ctx.path}.dynamic",
            version=template.id.version,
        )
        referenced = referenced_launch_plans(job)
        try:
            launch_plans = await self._launch_plans.fetch(referenced) if referenced and self._launch_plans else []
        except LaunchPlanUnavailable:
            return HandlerTransition(HandlerPhase.RUNNING, task_info=transition.task_info)  # compile next round
        except LaunchPlanNotFound as exc:
            error = ExecutionError(
                "DynamicWorkflowBuildFailed", f"dynamic workflow of [{ctx.node.id}]: {exc}", ErrorKind.USER
            )
            return HandlerTransition(HandlerPhase.PERMANENT_FAILURE, error=error, task_info=transition.task_info)
        try:
            closure = compile_dynamic_job(job, template.interface, workflow_id, launch_plans)
        except Exception as exc:  # noqa: BLE001 - any compile error is the user's workflow being invalid
            error = ExecutionError(
                "DynamicWorkflowBuildFailed", f"dynamic workflow of [{ctx.node.id}]: {exc}", ErrorKind.USER
            )
            return HandlerTransition(HandlerPhase.PERMANENT_FAILURE, error=error, task_info=transition.task_info)
        await ctx.blobs.write_proto(compiled_uri, closure)
        self._remember(compiled_uri, closure)
        metadata = event_pb2.DynamicWorkflowNodeMetadata(
            id=workflow_id, compiled_workflow=closure, dynamic_job_spec_uri=futures_uri
        )
        return HandlerTransition(
            HandlerPhase.RUNNING,
            task_info=transition.task_info,
            plugin_state=transition.plugin_state,
            dynamic_workflow_uri=compiled_uri,
            dynamic_workflow=metadata,
        )

    async def _literal_outputs(
        self, ctx: NodeContext, transition: HandlerTransition, job: dynamic_job_pb2.DynamicJobSpec
    ) -> HandlerTransition:
        """A job without nodes (flytekit returns plain outputs then, others may not): its outputs are literals."""

        async def no_upstream(node_id: str) -> literals_pb2.LiteralMap:
            raise BindingResolutionError(node_id, f"dynamic job without nodes refers to node [{node_id}]")

        try:
            outputs = await resolve_bindings(ctx.node.id, job.outputs, no_upstream)
        except NodeError as exc:
            error = ExecutionError("DynamicWorkflowBuildFailed", exc.message, ErrorKind.USER)
            return HandlerTransition(HandlerPhase.PERMANENT_FAILURE, error=error, task_info=transition.task_info)
        await ctx.literals.write_literal_map(transition.outputs_uri, outputs)
        return transition

    async def _run_children(self, ctx: NodeContext, compiled_uri: str) -> HandlerTransition:
        closure = await self._closure(ctx, compiled_uri)
        return await run_scope(ctx, self._scope(ctx, closure), "dynamic workflow failed")

    # ---- plumbing --------------------------------------------------------------------------------------------

    @staticmethod
    def _scope(ctx: NodeContext, closure: compiler_pb2.CompiledWorkflowClosure) -> Scope:
        ctx.templates.include(closure)
        attempt = ctx.state.attempt
        return Scope(
            workflow=closure.primary,
            inputs=ctx.inputs,
            prefix=f"{ctx.path}-{attempt}-",
            parent_path=ctx.path,
            parent_attempt=attempt,
        )

    async def _closure(self, ctx: NodeContext, uri: str) -> compiler_pb2.CompiledWorkflowClosure:
        closure = self._closures.get(uri)
        if closure is None:
            closure = await ctx.blobs.read_proto(uri, compiler_pb2.CompiledWorkflowClosure)
            self._remember(uri, closure)
        return closure

    def _remember(self, uri: str, closure: compiler_pb2.CompiledWorkflowClosure) -> None:
        self._closures[uri] = closure
        self._closures.move_to_end(uri)
        while len(self._closures) > _CACHE_SIZE:
            self._closures.popitem(last=False)
