"""The per-round execution context: one execution's spec, state, blob store and lookups.

The workflow and node executors hold it whole; node handlers get only its narrow faces (``nodes/base.py``:
ExecutionFacts, LiteralMaps, Templates, TaskEventRecorder), which it implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aloft.dataplane.v1 import dataplane_pb2
from flyteidl.core import compiler_pb2, identifier_pb2, literals_pb2, tasks_pb2

from aloft_propeller.config import PropellerConfig
from aloft_propeller.events.recorder import OutboxRecorder
from aloft_propeller.nodes.base import PluginResolver
from aloft_propeller.nodes.errors import BindingResolutionError, NodeError
from aloft_propeller.resourcemanager.base import ResourceManager
from aloft_propeller.state import NodePhase, WorkflowState
from aloft_propeller.store.base import ExecutionKey
from aloft_storage import BlobNotFound, BlobStore

if TYPE_CHECKING:
    from aloft_propeller.nodes.frontier import Frontier

__all__ = ["END_NODE", "START_NODE", "ExecutionContext", "PluginResolver"]

START_NODE = "start-node"
END_NODE = "end-node"


def _id_key(identifier: identifier_pb2.Identifier) -> tuple[str, str, str, str]:
    return (identifier.project, identifier.domain, identifier.name, identifier.version)


@dataclass
class ExecutionContext:
    key: ExecutionKey
    request: dataplane_pb2.CreateExecutionRequest
    closure: compiler_pb2.CompiledWorkflowClosure
    state: WorkflowState
    blobs: BlobStore
    config: PropellerConfig
    plugins: PluginResolver
    execution_uri: str
    recorder: OutboxRecorder
    now: float
    # Task nodes this round may still start (None: unbounded), from the execution's max_parallelism.
    start_budget: int | None = None
    # RecoverExecution: node path → outputs of that node in the original execution, which succeeded there.
    recovered: dict[str, str] = field(default_factory=dict)
    # The token pools plugins throttle with (resourcemanager section); None in tests that do not need it.
    resources: ResourceManager | None = None
    # The top-level DAG's incremental evaluation (nodes/frontier.py); None walks every node.
    frontier: Frontier | None = None
    # Flyte's transition latency, in seconds, of each node this round started: from its latest upstream's end (or
    # its failed attempt's) to the start, as flytepropeller's RecordTransitionLatency measures it.
    transitions: list[float] = field(default_factory=list)
    _tasks: dict[tuple[str, str, str, str], tasks_pb2.TaskTemplate] = field(default_factory=dict)
    _subworkflows: dict[tuple[str, str, str, str], compiler_pb2.CompiledWorkflow] = field(default_factory=dict)
    _literal_maps: dict[str, literals_pb2.LiteralMap] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._tasks = {_id_key(task.template.id): task.template for task in self.closure.tasks}
        self._subworkflows = {_id_key(wf.template.id): wf for wf in self.closure.sub_workflows}

    @property
    def execution_id(self) -> identifier_pb2.WorkflowExecutionIdentifier:
        return self.request.id

    @property
    def producer_id(self) -> str:
        return self.config.propeller.cluster_id

    @property
    def raw_output_prefix(self) -> str:
        configured = self.request.config.raw_output_prefix or self.config.propeller.rawoutput_prefix
        if configured:
            return f"{configured.rstrip('/')}/{self.key.name}"
        return self.blobs.uri("raw", self.key.name)

    def task_template(self, identifier: identifier_pb2.Identifier) -> tasks_pb2.TaskTemplate:
        template = self._tasks.get(_id_key(identifier))
        if template is None:
            raise NodeError(identifier.name, f"task {identifier.name}:{identifier.version} is not in the closure")
        return template

    def include(self, closure: compiler_pb2.CompiledWorkflowClosure) -> None:
        """Make a dynamic workflow's own tasks and subworkflows resolvable in this evaluation."""
        for task in closure.tasks:
            self._tasks.setdefault(_id_key(task.template.id), task.template)
        for workflow in closure.sub_workflows:
            self._subworkflows.setdefault(_id_key(workflow.template.id), workflow)

    def subworkflow(self, identifier: identifier_pb2.Identifier) -> compiler_pb2.CompiledWorkflow:
        workflow = self._subworkflows.get(_id_key(identifier))
        if workflow is None:
            raise NodeError(
                identifier.name, f"subworkflow {identifier.name}:{identifier.version} is not in the closure"
            )
        return workflow

    async def read_literal_map(self, uri: str) -> literals_pb2.LiteralMap:
        """A LiteralMap from the blob store; an absent or empty URI is an empty map (tasks without outputs)."""
        if not uri:
            return literals_pb2.LiteralMap()
        cached = self._literal_maps.get(uri)
        if cached is None:
            try:
                cached = await self.blobs.read_proto(uri, literals_pb2.LiteralMap)
            except BlobNotFound:
                cached = literals_pb2.LiteralMap()
            self._literal_maps[uri] = cached
        return cached

    async def write_literal_map(self, uri: str, literal_map: literals_pb2.LiteralMap) -> None:
        await self.blobs.write_proto(uri, literal_map)
        self._literal_maps[uri] = literal_map

    async def write_node_inputs(self, uri: str, inputs: literals_pb2.LiteralMap) -> None:
        """A node's inputs.pb, written only when it has inputs: an absent one reads as the empty map here and in
        admin, and a plugin whose process reads the file writes the empty map first (``io.ensure_inputs_blob``).
        Most no-op and raw-container nodes have none: a directory, a temporary file and a rename fewer each."""
        if inputs.literals:
            await self.blobs.write_proto(uri, inputs)
        self._literal_maps[uri] = inputs

    async def outputs_of(
        self, scope_prefix: str, scope_inputs: literals_pb2.LiteralMap, node_id: str
    ) -> literals_pb2.LiteralMap:
        if node_id == START_NODE:
            return scope_inputs
        state = self.state.peek(f"{scope_prefix}{node_id}")
        if state is None or state.phase != NodePhase.SUCCEEDED:
            raise BindingResolutionError(node_id, f"upstream node [{node_id}] has not succeeded")
        return await self.read_literal_map(state.outputs_uri)
