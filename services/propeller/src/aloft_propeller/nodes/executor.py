"""The node executor: the phase machine of every node, DAG evaluation with the failure policy, retries, timeouts
and abort. It alone writes node status and records node events (and the task events of task attempts); handlers
answer ``handle`` with a transition and ``describe`` with the node's traits, and never see the execution's state.

One step per node per round (a node that becomes ready is QUEUED, its inputs written, and handled at once); a
retry's new attempt number is persisted (RETRYABLE_FAILURE) before the plugin is asked to start it.
Deterministic attempt ids make a replay after a crash adopt, never duplicate, an attempt.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from flyteidl.core import literals_pb2, workflow_pb2

from aloft_propeller import paths
from aloft_propeller.events import builders
from aloft_propeller.execution_error import ErrorKind, ExecutionError
from aloft_propeller.nodes import attempts
from aloft_propeller.nodes.base import HandlerPhase, HandlerTransition, NodeContext, NodeTraits, Scope
from aloft_propeller.nodes.bindings import resolve_bindings
from aloft_propeller.nodes.context import END_NODE, ExecutionContext
from aloft_propeller.nodes.dag import DagGraph, dag_graph, upstream_ids
from aloft_propeller.nodes.errors import NodeError
from aloft_propeller.nodes.frontier import Frontier, NodeKind
from aloft_propeller.nodes.registry import NodeHandlerRegistry, node_kind
from aloft_propeller.plugins.base import Phase, PhaseInfo
from aloft_propeller.state import NodePhase, NodeState

log = logging.getLogger(__name__)

_FAILED = (NodePhase.FAILED, NodePhase.TIMED_OUT, NodePhase.ABORTED)
_ACTIVE = (NodePhase.QUEUED, NodePhase.RUNNING, NodePhase.RETRYABLE_FAILURE)


@dataclass(frozen=True)
class DagResult:
    phase: NodePhase  # RUNNING, SUCCEEDED or FAILED
    error: ExecutionError | None = None
    outputs: literals_pb2.LiteralMap | None = None


@dataclass(frozen=True)
class Parent:
    path: str
    retry_group: str


def _node_deadline(ctx: NodeContext) -> timedelta | None:
    """The node's own timeout (NodeMetadata.timeout): a deadline for all its attempts together."""
    if ctx.node.metadata.HasField("timeout") and ctx.node.metadata.timeout.ToTimedelta():
        return ctx.node.metadata.timeout.ToTimedelta()
    return None


class NodeExecutor:
    def __init__(self, handlers: NodeHandlerRegistry, max_system_retries: int) -> None:
        self._handlers = handlers
        self._max_system_retries = max_system_retries

    # ---- DAG -------------------------------------------------------------------------------------------------

    async def execute_dag(self, ectx: ExecutionContext, scope: Scope) -> DagResult:
        graph = dag_graph(scope)
        if ectx.frontier is not None:
            if not scope.prefix:
                return await self._execute_frontier(ectx, scope, graph, ectx.frontier)
            return await self._execute_frontier(ectx, scope, graph, self._nested_frontier(ectx.frontier, scope))
        parent = Parent(scope.parent_path, str(scope.parent_attempt)) if scope.parent_path else None
        for position, node in enumerate(graph.nodes):
            await self.execute_node(ectx, scope, node, scope.path_of(node.id), parent, graph.upstream[position])
        # Read, not touched: a nested scope is walked whenever its parent is visited, and a touched node is encoded
        # again (execute_node made every state).
        states = [ectx.state.peek(scope.path_of(node.id)) or NodeState() for node in graph.nodes]
        failed = [state for state in states if state.phase in _FAILED]
        still_running = any(state.phase in _ACTIVE for state in states) if failed else False
        finished = all(state.phase.is_terminal for state in states)
        return await self._dag_result(ectx, scope, failed, still_running, finished)

    async def _dag_result(
        self,
        ectx: ExecutionContext,
        scope: Scope,
        failed: list[NodeState],
        still_running: bool,
        finished: bool,
    ) -> DagResult:
        if failed:
            policy = scope.workflow.template.metadata.on_failure
            if policy == workflow_pb2.WorkflowMetadata.FAIL_IMMEDIATELY or not still_running:
                return DagResult(NodePhase.FAILED, failed[0].error)
            return DagResult(NodePhase.RUNNING)
        if finished:
            outputs = await self._scope_outputs(ectx, scope)
            return DagResult(NodePhase.SUCCEEDED, outputs=outputs)
        return DagResult(NodePhase.RUNNING)

    @staticmethod
    def _nested_frontier(top: Frontier, scope: Scope) -> Frontier:
        """A nested scope's own frontier (a dynamic workflow's, a subworkflow's), kept in the top-level one: a new
        one (and any round that walks the top level in full) walks the scope in full; otherwise a visit of the
        parent visits only the children woken, due or next in line (a 500-node dynamic fan-out used to step every
        child on each visit)."""
        key = f"scope:{scope.prefix}"
        frontier = top.nested.get(key)
        if frontier is None:
            frontier = top.nested[key] = Frontier()
        if top.stats.full:
            frontier.full = True
        woken, poll_all = top.woken_below(scope.prefix)
        frontier.woken = woken | ({""} if poll_all else set())
        return frontier

    async def _execute_frontier(
        self, ectx: ExecutionContext, scope: Scope, graph: DagGraph, frontier: Frontier
    ) -> DagResult:
        """A DAG, visiting only what the round must (nodes/frontier.py)."""
        nodes = ectx.state.nodes
        paths = [scope.path_of(node_id) for node_id in graph.ids] if scope.prefix else graph.ids
        parent = Parent(scope.parent_path, str(scope.parent_attempt)) if scope.parent_path else None

        def state_of(position: int) -> NodeState | None:
            return nodes.get(paths[position])

        def upstream_done(position: int) -> bool:
            for node_id in graph.upstream[position]:
                upstream = nodes.get(scope.path_of(node_id))
                if upstream is None or not upstream.phase.is_terminal or upstream.phase in _FAILED:
                    return False
            return True

        def kind_of(position: int) -> NodeKind:
            kind = frontier.kinds.get(position)
            if kind is None:
                kind = frontier.kinds[position] = self._node_kind(ectx, graph.nodes[position])
            return kind

        async def visit(position: int) -> tuple[NodeState, bool]:
            node = graph.nodes[position]
            recorded = ectx.state.event_seq
            state = await self.execute_node(ectx, scope, node, paths[position], parent, graph.upstream[position])
            # Every phase change records an event: one recorded means the node, or a node nested below it (a
            # dynamic or subworkflow node's children), moved, though the node's own state may look the same.
            return state, ectx.state.event_seq != recorded

        ceiling = ectx.config.propeller.downstream_eval_duration.total_seconds()
        nested = bool(scope.prefix)
        await frontier.walk(graph, state_of, upstream_done, kind_of, visit, ectx.now, ceiling, parent_paced=nested)
        # Read, not touched (nested scopes: see the full walk below).
        failed = [ectx.state.peek(paths[position]) or NodeState() for position in sorted(frontier.failed)]
        still_running = False
        if failed:
            still_running = any(
                (state := state_of(position)) is not None and state.phase in _ACTIVE for position in frontier.unfinished
            )
        result = await self._dag_result(ectx, scope, failed, still_running, not frontier.unfinished)
        if nested and result.phase != NodePhase.RUNNING and ectx.frontier is not None:
            ectx.frontier.nested.pop(f"scope:{scope.prefix}", None)  # its parent finishes with it
        return result

    @staticmethod
    def _node_kind(ectx: ExecutionContext, node: workflow_pb2.Node) -> NodeKind:
        """Blocked nodes of one kind wait for the same thing: a task type's slots, or the parallelism budget."""
        target = node.WhichOneof("target") or ""
        has_deadline = node.metadata.HasField("timeout") and bool(node.metadata.timeout.ToTimedelta())
        if target != "task_node":
            return NodeKind(target, has_deadline)
        try:
            template = ectx.task_template(node.task_node.reference_id)
        except NodeError:
            return NodeKind(target, True)  # fails when visited: never left untried
        has_deadline = has_deadline or attempts.attempt_timeout(template) is not None
        try:
            wakes = bool(getattr(ectx.plugins.for_task_type(template.type), "wakes_nodes", False))
        except LookupError:
            wakes = False
        return NodeKind(f"{target}:{template.type}", has_deadline, wakes)

    async def _scope_outputs(self, ectx: ExecutionContext, scope: Scope) -> literals_pb2.LiteralMap:
        async def outputs_of(node_id: str) -> literals_pb2.LiteralMap:
            return await ectx.outputs_of(scope.prefix, scope.inputs, node_id)

        return await resolve_bindings(END_NODE, scope.workflow.template.outputs, outputs_of)

    async def abort_dag(self, ectx: ExecutionContext, scope: Scope, reason: str) -> None:
        parent = Parent(scope.parent_path, str(scope.parent_attempt)) if scope.parent_path else None
        for node in dag_graph(scope).nodes:
            await self.abort_node(ectx, scope, node, scope.path_of(node.id), reason, parent)

    # ---- one node --------------------------------------------------------------------------------------------

    async def execute_node(
        self,
        ectx: ExecutionContext,
        scope: Scope,
        node: workflow_pb2.Node,
        path: str,
        parent: Parent | None,
        upstream: Iterable[str] | None = None,
    ) -> NodeState:
        """``upstream``: the node's upstream ids when the caller has them (``dag_graph``), else derived."""
        finished = ectx.state.peek(path)
        if finished is not None and finished.phase.is_terminal:
            return finished  # not touched (see execute_dag)
        state = ectx.state.node(path)
        if state.phase == NodePhase.NOT_YET_STARTED:
            if upstream is None:
                upstream = upstream_ids(scope, node)
            await self._maybe_start(ectx, scope, node, path, parent, upstream)
            if state.phase != NodePhase.QUEUED:
                return state
            # Handled in the same round: attempt 0's id is deterministic, so a crash before this round is saved
            # replays the start and the plugin adopts the attempt it already began.
        ctx = await self._context(ectx, scope, node, path, parent)
        await self._step(ectx, ctx, parent)
        return state

    async def execute_child(
        self, ectx: ExecutionContext, ctx: NodeContext, child: workflow_pb2.Node, path: str
    ) -> NodeState:
        """A branch's chosen node: runs in the branch's scope, with the branch as its parent."""
        parent = Parent(ctx.path, str(ctx.state.attempt))
        state = ectx.state.node(path)
        if state.phase == NodePhase.NOT_YET_STARTED:
            await self._maybe_start(ectx, ctx.scope, child, path, parent, None)
            if state.phase != NodePhase.QUEUED:
                return state
        if state.phase.is_terminal:
            return state
        child_ctx = await self._context(ectx, ctx.scope, child, path, parent)
        await self._step(ectx, child_ctx, parent)
        return state

    async def abort_child(
        self, ectx: ExecutionContext, ctx: NodeContext, child: workflow_pb2.Node, path: str, reason: str
    ) -> None:
        await self.abort_node(ectx, ctx.scope, child, path, reason, Parent(ctx.path, str(ctx.state.attempt)))

    async def abort_node(
        self,
        ectx: ExecutionContext,
        scope: Scope,
        node: workflow_pb2.Node,
        path: str,
        reason: str,
        parent: Parent | None,
    ) -> None:
        known = ectx.state.peek(path)
        if known is None or known.phase not in _ACTIVE:
            return
        state = ectx.state.node(path)
        ctx = await self._context(ectx, scope, node, path, parent)
        try:
            await self._handlers.for_node(node).abort(ctx, reason)
        except NodeError:
            pass  # nothing was started for an unsupported node
        if self._traits(ctx).plugin_attempt and state.plugin_phase:
            self._record_task_aborted(ectx, ctx, reason)
        state.error = ExecutionError("ExecutionAborted", reason, ErrorKind.USER)
        self._set_phase(ectx, ctx, NodePhase.ABORTED, parent)

    # ---- steps -----------------------------------------------------------------------------------------------

    async def _maybe_start(
        self,
        ectx: ExecutionContext,
        scope: Scope,
        node: workflow_pb2.Node,
        path: str,
        parent: Parent | None,
        upstream_of: Iterable[str] | None,
    ) -> None:
        """``upstream_of``: the node's upstream ids; None for a branch's chosen node (its branch already waited)."""
        state = ectx.state.node(path)
        upstream_end = 0.0
        if upstream_of is not None:
            upstream = [ectx.state.peek(scope.path_of(node_id)) or NodeState() for node_id in upstream_of]
            if any(not up.phase.is_terminal or up.phase in _FAILED for up in upstream):
                return
            if any(up.phase == NodePhase.SKIPPED for up in upstream):
                await self._skip(ectx, scope, node, path, parent)
                return
            # No upstream: Flyte measures from the start node's end, here the workflow's start (top level only).
            start = (ectx.state.started_at or 0.0) if parent is None else 0.0
            upstream_end = max((up.updated_at or 0.0 for up in upstream), default=start)
        ctx = self._make_context(ectx, scope, node, path, literals_pb2.LiteralMap(), "")
        if self._traits(ctx).task_id is not None and ectx.start_budget is not None and path not in ectx.recovered:
            if ectx.start_budget <= 0:
                return
            ectx.start_budget -= 1
        node_uri = paths.node_dir(ectx.execution_uri, path)
        inputs_uri = paths.inputs_uri(node_uri)

        async def outputs_of(node_id: str) -> literals_pb2.LiteralMap:
            return await ectx.outputs_of(scope.prefix, scope.inputs, node_id)

        if upstream_end:
            ectx.transitions.append(max(time.time() - upstream_end, 0.0))
        state.started_at = ectx.now
        state.kind = node_kind(node)
        try:
            inputs = await resolve_bindings(node.id, node.inputs, outputs_of)
        except NodeError as exc:
            state.error = ExecutionError(exc.code, exc.message, ErrorKind.USER)
            self._set_phase(ectx, ctx, NodePhase.FAILED, parent)
            return
        await ectx.write_node_inputs(inputs_uri, inputs)
        ctx.inputs, ctx.inputs_uri = inputs, inputs_uri
        recovered = ectx.recovered.get(path)
        if recovered is not None:
            # The original execution already succeeded this node: reuse its outputs, run nothing.
            state.outputs_uri = recovered
            self._set_phase(ectx, ctx, NodePhase.SUCCEEDED, parent, recovered=True)
            return
        self._set_phase(ectx, ctx, NodePhase.QUEUED, parent)

    async def _skip(
        self, ectx: ExecutionContext, scope: Scope, node: workflow_pb2.Node, path: str, parent: Parent | None
    ) -> None:
        ctx = self._make_context(ectx, scope, node, path, literals_pb2.LiteralMap(), "")
        self._set_phase(ectx, ctx, NodePhase.SKIPPED, parent)

    async def _step(self, ectx: ExecutionContext, ctx: NodeContext, parent: Parent | None) -> None:
        state = ctx.state
        if state.phase == NodePhase.RETRYABLE_FAILURE:
            if state.updated_at:  # Flyte counts a retry as a transition too: from the failed attempt's end
                ectx.transitions.append(max(time.time() - state.updated_at, 0.0))
            # The new attempt number is already persisted: now it may start.
            state.plugin_state, state.plugin_phase, state.plugin_phase_version = b"", 0, 0
            state.attempt_started_at = None
            state.phase = NodePhase.RUNNING
        if await self._timed_out(ectx, ctx, parent):
            return
        try:
            transition = await self._handlers.for_node(ctx.node).handle(ctx)
        except NodeError as exc:
            transition = HandlerTransition.failure(exc.code, exc.message)
        await self._apply(ectx, ctx, transition, parent)

    async def _timed_out(self, ectx: ExecutionContext, ctx: NodeContext, parent: Parent | None) -> bool:
        now = ectx.now
        deadline = _node_deadline(ctx)
        if deadline is not None and ctx.state.started_at and now - ctx.state.started_at > deadline.total_seconds():
            await self._handlers.for_node(ctx.node).abort(ctx, f"node timed out after {deadline}")
            error = ExecutionError("Timeout", f"node [{ctx.node.id}] exceeded its timeout of {deadline}")
            await self._apply(ectx, ctx, HandlerTransition(HandlerPhase.PERMANENT_FAILURE, error=error), parent, True)
            return True
        timeout = self._attempt_timeout(ctx)
        if not attempts.attempt_expired(timeout, ctx.state.attempt_started_at, now):
            return False
        await self._handlers.for_node(ctx.node).abort(ctx, f"timed out after {timeout}")
        error = ExecutionError("Timeout", f"node [{ctx.node.id}] attempt {ctx.state.attempt} timed out after {timeout}")
        transition = HandlerTransition(HandlerPhase.RETRYABLE_FAILURE, error=error)
        await self._apply(ectx, ctx, transition, parent, timed_out=True)
        return True

    async def _apply(
        self,
        ectx: ExecutionContext,
        ctx: NodeContext,
        transition: HandlerTransition,
        parent: Parent | None,
        timed_out: bool = False,
    ) -> None:
        state = ctx.state
        for event in transition.task_events:
            ectx.recorder.task(event)
        if transition.plugin_state is not None:
            state.plugin_state = transition.plugin_state
        if transition.branch_taken:
            state.branch_taken = transition.branch_taken
        if transition.dynamic_workflow_uri:
            state.dynamic_workflow_uri = transition.dynamic_workflow_uri
        if transition.task_info is not None:
            self._record_task_phase(ectx, ctx, transition.task_info, transition.outputs_uri)
        if state.attempt_started_at is None:
            state.attempt_started_at = ectx.now
        if state.phase == NodePhase.QUEUED:
            # Admin records started_at from RUNNING: report it even when the node finishes in its first round.
            self._set_phase(ectx, ctx, NodePhase.RUNNING, parent)
        if transition.dynamic_workflow is not None:
            self._record_dynamic(ectx, ctx, transition.dynamic_workflow, parent)
        if transition.phase == HandlerPhase.RUNNING:
            return
        await self._finalize(ctx)
        if transition.phase == HandlerPhase.SUCCESS:
            state.outputs_uri = transition.outputs_uri
            state.deck_uri = transition.deck_uri
            self._set_phase(ectx, ctx, NodePhase.SUCCEEDED, parent, task_node_metadata=transition.task_node_metadata)
            return
        error = transition.error or ExecutionError("UnknownError", "node failed without an error", ErrorKind.SYSTEM)
        state.error = error
        if transition.phase == HandlerPhase.RETRYABLE_FAILURE and self._take_retry(ctx, error):
            state.attempt += 1
            state.phase = NodePhase.RETRYABLE_FAILURE
            state.message = f"retrying after: {error.message}"
            return
        self._set_phase(ectx, ctx, NodePhase.TIMED_OUT if timed_out else NodePhase.FAILED, parent)

    def _take_retry(self, ctx: NodeContext, error: ExecutionError) -> bool:
        state = ctx.state
        task_id = self._traits(ctx).task_id
        template = ctx.templates.task_template(task_id) if task_id is not None else None
        budget = attempts.user_retries(ctx.node, template)
        failures = attempts.retry_after(error, state.attempt, state.system_failures, budget, self._max_system_retries)
        if failures is None:
            return False
        state.system_failures = failures
        return True

    async def _finalize(self, ctx: NodeContext) -> None:
        try:
            handler = self._handlers.for_node(ctx.node)
        except NodeError:
            return  # an unsupported kind: nothing ran, the node fails with UnsupportedNodeKind
        if handler.finalize_required():
            await handler.finalize(ctx)

    # ---- traits (what the handler says of its node) -------------------------------------------------------------

    def _traits(self, ctx: NodeContext) -> NodeTraits:
        try:
            return self._handlers.for_node(ctx.node).describe(ctx)
        except NodeError:
            return NodeTraits()  # an unsupported kind: handle() fails it

    def _attempt_timeout(self, ctx: NodeContext) -> timedelta | None:
        """The task's per-attempt deadline (attempts.py), while the node's attempt is a plugin run."""
        traits = self._traits(ctx)
        if not traits.plugin_attempt or traits.task_id is None:
            return None
        return attempts.attempt_timeout(ctx.templates.task_template(traits.task_id))

    # ---- status + events -------------------------------------------------------------------------------------

    def _event_info(self, ctx: NodeContext, parent: Parent | None) -> builders.NodeEventInfo:
        traits = self._traits(ctx)
        return builders.NodeEventInfo(
            execution_id=ctx.execution.execution_id,
            producer_id=ctx.execution.producer_id,
            path=ctx.path,
            spec_node_id=ctx.node.id,
            node_name=ctx.node.metadata.name,
            input_uri=ctx.inputs_uri,
            parent_path=parent.path if parent else "",
            retry_group=parent.retry_group if parent else "",
            is_parent=traits.is_parent,
            is_dynamic=bool(ctx.state.dynamic_workflow_uri),
            task_id=traits.task_id,
            child_execution=traits.child_execution,
            is_array=traits.is_array,
        )

    def _set_phase(
        self,
        ectx: ExecutionContext,
        ctx: NodeContext,
        phase: NodePhase,
        parent: Parent | None,
        recovered: bool = False,
        task_node_metadata: builders.event_pb2.TaskNodeMetadata | None = None,
    ) -> None:
        state = ctx.state
        state.phase = phase
        state.updated_at = ectx.now
        output_uri = state.outputs_uri if phase == NodePhase.SUCCEEDED else ""
        error = state.error if phase in _FAILED else None
        info = self._event_info(ctx, parent)
        deck_uri = state.deck_uri if phase == NodePhase.SUCCEEDED else ""
        event = builders.node_event(info, phase, ectx.now, output_uri, error, deck_uri, recovered)
        if task_node_metadata is not None:
            event.task_node_metadata.MergeFrom(task_node_metadata)
        ectx.recorder.node(event)

    def _record_dynamic(
        self,
        ectx: ExecutionContext,
        ctx: NodeContext,
        dynamic: builders.event_pb2.DynamicWorkflowNodeMetadata,
        parent: Parent | None,
    ) -> None:
        """The node became a dynamic parent: DYNAMIC_RUNNING with its compiled workflow (GetDynamicNodeWorkflow)."""
        event = builders.node_event(self._event_info(ctx, parent), NodePhase.RUNNING, ectx.now)
        event.phase = builders.execution_pb2.NodeExecution.DYNAMIC_RUNNING
        event.task_node_metadata.dynamic_workflow.CopyFrom(dynamic)
        ectx.recorder.node(event)

    def _record_task_phase(self, ectx: ExecutionContext, ctx: NodeContext, info: PhaseInfo, outputs_uri: str) -> None:
        state = ctx.state
        if (int(info.phase), info.version) == (state.plugin_phase, state.plugin_phase_version):
            return
        state.plugin_phase, state.plugin_phase_version = int(info.phase), info.version
        template = ctx.task_template()
        event = builders.task_event(
            self._event_info(ctx, None),
            template.type,
            state.attempt,
            paths.unique_attempt_id(ectx.key.name, ctx.path, state.attempt),
            template.type,
            info,
            ectx.now,
            outputs_uri,
        )
        ectx.recorder.task(event)

    def _record_task_aborted(self, ectx: ExecutionContext, ctx: NodeContext, reason: str) -> None:
        info = PhaseInfo(Phase.PERMANENT_FAILURE, version=ctx.state.plugin_phase_version + 1, reason=reason)
        template = ctx.task_template()
        event = builders.task_event(
            self._event_info(ctx, None),
            template.type,
            ctx.state.attempt,
            paths.unique_attempt_id(ectx.key.name, ctx.path, ctx.state.attempt),
            template.type,
            info,
            ectx.now,
        )
        event.phase = builders.execution_pb2.TaskExecution.ABORTED
        ectx.recorder.task(event)

    # ---- plumbing --------------------------------------------------------------------------------------------

    async def _context(
        self, ectx: ExecutionContext, scope: Scope, node: workflow_pb2.Node, path: str, parent: Parent | None
    ) -> NodeContext:
        inputs_uri = paths.inputs_uri(paths.node_dir(ectx.execution_uri, path))
        # A node's inputs are its bindings resolved (_maybe_start): a node without bindings has the empty map, and
        # no inputs.pb (a failed look-up on every visit, most nodes of a no-op fan-out being visited a few times).
        inputs = await ectx.read_literal_map(inputs_uri) if node.inputs else literals_pb2.LiteralMap()
        return self._make_context(ectx, scope, node, path, inputs, inputs_uri)

    def _make_context(
        self,
        ectx: ExecutionContext,
        scope: Scope,
        node: workflow_pb2.Node,
        path: str,
        inputs: literals_pb2.LiteralMap,
        inputs_uri: str,
    ) -> NodeContext:
        async def execute_dag(child_scope: Scope) -> DagResult:
            return await self.execute_dag(ectx, child_scope)

        async def abort_dag(child_scope: Scope, reason: str) -> None:
            await self.abort_dag(ectx, child_scope, reason)

        async def execute_child(ctx: NodeContext, child: workflow_pb2.Node, child_path: str) -> NodeState:
            return await self.execute_child(ectx, ctx, child, child_path)

        async def abort_child(ctx: NodeContext, child: workflow_pb2.Node, child_path: str, reason: str) -> None:
            await self.abort_child(ectx, ctx, child, child_path, reason)

        return NodeContext(
            execution=ectx,
            literals=ectx,
            blobs=ectx.blobs,
            templates=ectx,
            events=ectx.recorder,
            plugins=ectx.plugins,
            resources=ectx.resources,
            max_system_retries=self._max_system_retries,
            scope=scope,
            node=node,
            path=path,
            state=ectx.state.node(path),
            inputs=inputs,
            inputs_uri=inputs_uri,
            node_uri=paths.node_dir(ectx.execution_uri, path),
            execute_dag=execute_dag,
            abort_dag=abort_dag,
            execute_child=execute_child,
            abort_child=abort_child,
        )
