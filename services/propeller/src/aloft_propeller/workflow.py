"""The workflow executor: one evaluation of one execution (flytepropeller controller/workflow/executor.go).

READY → RUNNING → (DAG) → SUCCEEDED | FAILING (failure node, if any) → FAILED; an abort request at any point
aborts active nodes and ends ABORTED. All changes are made to the in-memory state and its event outbox; the
controller persists them (version-checked) before the outbox is delivered.
"""

from __future__ import annotations

import logging

from aloft.dataplane.v1 import dataplane_pb2
from flyteidl.core import compiler_pb2, identifier_pb2, literals_pb2, workflow_pb2

from aloft_propeller import paths
from aloft_propeller.config import PropellerConfig
from aloft_propeller.events import builders
from aloft_propeller.events.recorder import OutboxRecorder
from aloft_propeller.execution_error import ErrorKind, ExecutionError
from aloft_propeller.nodes.base import Scope
from aloft_propeller.nodes.context import ExecutionContext, PluginResolver
from aloft_propeller.nodes.errors import NodeError
from aloft_propeller.nodes.executor import NodeExecutor
from aloft_propeller.nodes.frontier import Frontier
from aloft_propeller.nodes.registry import NodeHandlerRegistry
from aloft_propeller.recovery import RecoverySource
from aloft_propeller.resourcemanager.base import ResourceManager
from aloft_propeller.state import NodePhase, WorkflowPhase, WorkflowState
from aloft_propeller.store.base import ExecutionKey, WorkflowRecord, WorkflowStore
from aloft_service.errors import NotFound
from aloft_storage import BlobNotFound, BlobStore

log = logging.getLogger(__name__)

_SPEC_CACHE_SIZE = 2048


class WorkflowExecutor:
    def __init__(
        self,
        config: PropellerConfig,
        blobs: BlobStore,
        plugins: PluginResolver,
        handlers: NodeHandlerRegistry,
        store: WorkflowStore | None = None,
        resources: ResourceManager | None = None,
        recovery: RecoverySource | None = None,
    ) -> None:
        self._store = store
        self._recovery = recovery
        self._resources = resources
        self._recovered: dict[ExecutionKey, dict[str, str]] = {}
        self._config = config
        self._blobs = blobs
        self._plugins = plugins
        self._nodes = NodeExecutor(handlers, config.propeller.max_node_retries_for_system_failures)
        self._specs: dict[
            ExecutionKey,
            tuple[bytes, dataplane_pb2.CreateExecutionRequest, compiler_pb2.CompiledWorkflowClosure],
        ] = {}
        self._top_ids: dict[ExecutionKey, frozenset[str]] = {}
        self._inputs: dict[ExecutionKey, tuple[str, literals_pb2.LiteralMap]] = {}
        # Each execution's incremental evaluation, with the record version it is valid for (-1: being evaluated).
        self._frontiers: dict[ExecutionKey, tuple[int, Frontier]] = {}

    # ---- incremental evaluation (nodes/frontier.py) -------------------------------------------------------------

    def keep_frontier(self, key: ExecutionKey, frontier: Frontier | None, version: int) -> None:
        """The round's evaluation is saved as ``version``: the next round on that version may continue from it."""
        if frontier is not None:
            self._frontiers[key] = (version, frontier)

    def rekey_frontier(self, key: ExecutionKey, version: int, new_version: int) -> None:
        """``version`` was rewritten as ``new_version`` with the same node states (delivery progress)."""
        entry = self._frontiers.get(key)
        if entry is not None and entry[0] == version:
            self._frontiers[key] = (new_version, entry[1])

    def drop_frontier(self, key: ExecutionKey) -> None:
        self._frontiers.pop(key, None)

    def wake_node(self, key: ExecutionKey, path: str) -> None:
        """Node ``path`` has news (its task process exited): the next round visits it."""
        entry = self._frontiers.get(key)
        if entry is not None:
            entry[1].wake(path)

    def frontier_of(self, key: ExecutionKey) -> Frontier | None:
        entry = self._frontiers.get(key)
        return entry[1] if entry is not None else None

    def _frontier_for(self, record: WorkflowRecord) -> Frontier:
        entry = self._frontiers.get(record.key)
        frontier = entry[1] if entry is not None and entry[0] == record.resource_version else None
        if frontier is None:
            frontier = Frontier()  # walks in full; keeps wake-ups that arrive during the round
            if entry is not None:
                frontier.woken = entry[1].woken
        frontier.due = None  # set only by a walk of the top-level DAG this round
        self._frontiers[record.key] = (-1, frontier)
        return frontier

    async def context(
        self, record: WorkflowRecord, state: WorkflowState, now: float, running_tasks: int | None = None
    ) -> ExecutionContext:
        """``running_tasks``: the state's running task nodes when the caller keeps count (the round's encoder),
        else counted here over every node."""
        request, closure = await self._parsed_spec(record)
        budget = None
        if request.config.max_parallelism > 0:
            if running_tasks is None:
                running_tasks = sum(1 for node in state.nodes.values() if node.running_task)
            budget = max(request.config.max_parallelism - running_tasks, 0)
        execution_uri = paths.execution_dir(self._blobs, self._config.propeller.metadata_prefix, record.key)
        return ExecutionContext(
            key=record.key,
            request=request,
            closure=closure,
            state=state,
            blobs=self._blobs,
            config=self._config,
            plugins=self._plugins,
            execution_uri=execution_uri,
            recorder=OutboxRecorder(state, self._top_level_ids(record.key, closure)),
            now=now,
            start_budget=budget,
            recovered=await self._recovered_nodes(record.key, request, execution_uri),
            resources=self._resources,
            frontier=self._frontier_for(record),
        )

    async def _recovered_nodes(
        self, key: ExecutionKey, request: dataplane_pb2.CreateExecutionRequest, execution_uri: str
    ) -> dict[str, str]:
        """For RecoverExecution: the nodes the original execution succeeded (node path → outputs URI).

        From this data plane's store when it holds the original, else from admin's node executions.
        """
        if not request.HasField("recover_from"):
            return {}
        cached = self._recovered.get(key)
        if cached is None:
            cached = await self._succeeded_in_original(key, request.recover_from, execution_uri)
            if len(self._recovered) >= _SPEC_CACHE_SIZE:
                self._recovered.pop(next(iter(self._recovered)))
            self._recovered[key] = cached
        return cached

    async def _succeeded_in_original(
        self, key: ExecutionKey, original: identifier_pb2.WorkflowExecutionIdentifier, execution_uri: str
    ) -> dict[str, str]:
        if self._store is not None:
            try:
                record = await self._store.get(ExecutionKey(original.project, original.domain, original.name))
            except NotFound:
                pass
            else:
                nodes = record.state.nodes.items()
                return {path: node.outputs_uri for path, node in nodes if node.phase == NodePhase.SUCCEEDED}
        if self._recovery is not None:
            return await self._recovery.succeeded_nodes(original, execution_uri)
        log.warning("%s: cannot recover from %s, not on this data plane; running every node", key, original.name)
        return {}

    async def _parsed_spec(
        self, record: WorkflowRecord
    ) -> tuple[dataplane_pb2.CreateExecutionRequest, compiler_pb2.CompiledWorkflowClosure]:
        """The spec never changes for an execution: parse it (and fetch an offloaded closure) once."""
        cached = self._specs.get(record.key)
        if cached is not None and cached[0] == record.spec:
            return cached[1], cached[2]
        request = dataplane_pb2.CreateExecutionRequest.FromString(record.spec)
        closure = await self._closure(request)
        if len(self._specs) >= _SPEC_CACHE_SIZE:
            self._specs.pop(next(iter(self._specs)))
        self._specs[record.key] = (record.spec, request, closure)
        return request, closure

    def _top_level_ids(self, key: ExecutionKey, closure: compiler_pb2.CompiledWorkflowClosure) -> frozenset[str]:
        cached = self._top_ids.get(key)
        if cached is None:
            template = closure.primary.template
            ids = [node.id for node in template.nodes]
            cached = frozenset([*ids, template.failure_node.id] if template.HasField("failure_node") else ids)
            if len(self._top_ids) >= _SPEC_CACHE_SIZE:
                self._top_ids.pop(next(iter(self._top_ids)))
            self._top_ids[key] = cached
        return cached

    async def _closure(self, request: dataplane_pb2.CreateExecutionRequest) -> compiler_pb2.CompiledWorkflowClosure:
        if request.WhichOneof("closure") == "closure_uri":
            return await self._blobs.read_proto(request.closure_uri, compiler_pb2.CompiledWorkflowClosure)
        return request.compiled_closure

    async def evaluate(self, ectx: ExecutionContext) -> None:
        state = ectx.state
        if state.phase.is_terminal:
            return
        if state.held and not state.abort_cause:
            return  # admin has not committed the hand-off yet (StartExecution): no node, no task may start
        scope = await self._top_scope(ectx)
        if state.abort_cause:
            await self._abort(ectx, scope)
            return
        if state.phase == WorkflowPhase.READY:
            state.started_at = ectx.now
            self._set_phase(ectx, WorkflowPhase.RUNNING)
        if state.phase == WorkflowPhase.RUNNING:
            await self._run(ectx, scope)
        elif state.phase == WorkflowPhase.FAILING:
            await self._run_failure_node(ectx, scope)

    async def _top_scope(self, ectx: ExecutionContext) -> Scope:
        """The execution's inputs never change: read once per execution, not every round."""
        cached = self._inputs.get(ectx.key)
        if cached is not None and cached[0] == ectx.request.inputs_uri:
            return Scope(workflow=ectx.closure.primary, inputs=cached[1])
        inputs = literals_pb2.LiteralMap()
        if ectx.request.inputs_uri:
            try:
                inputs = await ectx.read_literal_map(ectx.request.inputs_uri)
            except BlobNotFound:
                return Scope(workflow=ectx.closure.primary, inputs=inputs)  # not cached: it may appear later
        if len(self._inputs) >= _SPEC_CACHE_SIZE:
            self._inputs.pop(next(iter(self._inputs)))
        self._inputs[ectx.key] = (ectx.request.inputs_uri, inputs)
        return Scope(workflow=ectx.closure.primary, inputs=inputs)

    async def _run(self, ectx: ExecutionContext, scope: Scope) -> None:
        state = ectx.state
        try:
            result = await self._nodes.execute_dag(ectx, scope)
        except NodeError as exc:
            result_error = ExecutionError(exc.code, exc.message, ErrorKind.USER)
            await self._fail(ectx, scope, result_error)
            return
        if result.phase == NodePhase.SUCCEEDED:
            uri = paths.outputs_uri(ectx.execution_uri)
            await ectx.write_literal_map(uri, result.outputs or literals_pb2.LiteralMap())
            state.outputs_uri = uri
            self._set_phase(ectx, WorkflowPhase.SUCCEEDED)
        elif result.phase == NodePhase.FAILED:
            await self._fail(
                ectx, scope, result.error or ExecutionError("UnknownError", "workflow failed", ErrorKind.SYSTEM)
            )

    async def _fail(self, ectx: ExecutionContext, scope: Scope, error: ExecutionError) -> None:
        ectx.state.error = error
        await self._nodes.abort_dag(ectx, scope, f"workflow failed: {error.message}")
        if scope.workflow.template.HasField("failure_node"):
            self._set_phase(ectx, WorkflowPhase.FAILING)
            await self._run_failure_node(ectx, scope)
            return
        self._set_phase(ectx, WorkflowPhase.FAILED)

    async def _run_failure_node(self, ectx: ExecutionContext, scope: Scope) -> None:
        node: workflow_pb2.Node = scope.workflow.template.failure_node
        node_state = await self._nodes.execute_node(ectx, scope, node, node.id, None)
        if node_state.phase.is_terminal:
            self._set_phase(ectx, WorkflowPhase.FAILED)

    async def _abort(self, ectx: ExecutionContext, scope: Scope) -> None:
        cause = ectx.state.abort_cause
        await self._nodes.abort_dag(ectx, scope, cause)
        if scope.workflow.template.HasField("failure_node"):
            failure_node = scope.workflow.template.failure_node
            await self._nodes.abort_node(ectx, scope, failure_node, failure_node.id, cause, None)
        ectx.state.error = ExecutionError("ExecutionAborted", cause, ErrorKind.USER)
        self._set_phase(ectx, WorkflowPhase.ABORTED)

    def _set_phase(self, ectx: ExecutionContext, phase: WorkflowPhase) -> None:
        state = ectx.state
        state.phase = phase
        state.updated_at = ectx.now
        output_uri = state.outputs_uri if phase == WorkflowPhase.SUCCEEDED else ""
        error = state.error if phase == WorkflowPhase.FAILED else None
        event = builders.workflow_event(ectx.execution_id, ectx.producer_id, phase, ectx.now, output_uri, error)
        ectx.recorder.workflow(event)
