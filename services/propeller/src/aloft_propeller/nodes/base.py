"""The node handler contract and the narrow context handlers get.

A node kind is six methods: ``setup``, ``handle``, ``abort``, ``finalize``, ``finalize_required`` and ``describe``.
``handle`` returns a frozen ``HandlerTransition``; ``describe`` answers what the node executor needs to know of the
kind (``NodeTraits``), so the executor never tests node kinds by name. Only the node executor writes node status,
records node events, retries and times out. ``handle`` may be called many times for the same attempt (every round,
and after a crash) and must adopt work already started; ``abort``/``finalize`` are safe to repeat.
``PlainNodeHandler`` supplies the no-op ``setup``/``finalize``/``describe`` of kinds that need nothing more.

A handler sees one execution through ``NodeContext``'s capabilities (execution facts, literal maps, blobs, templates,
task-event recording, plugins), never the execution's whole state.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from aloft.dataplane.v1 import dataplane_pb2
from flyteidl.core import compiler_pb2, identifier_pb2, literals_pb2, tasks_pb2, workflow_pb2
from flyteidl.event import event_pb2

from aloft_propeller import paths
from aloft_propeller.execution_error import ErrorKind, ExecutionError
from aloft_propeller.plugins.base import PhaseInfo, Plugin
from aloft_propeller.resourcemanager.base import ResourceManager
from aloft_propeller.state import NodeState
from aloft_propeller.store.base import ExecutionKey
from aloft_storage import BlobStore

if TYPE_CHECKING:
    from aloft_propeller.nodes.executor import DagResult
    from aloft_propeller.nodes.frontier import Frontier


class HandlerPhase(enum.Enum):
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    RETRYABLE_FAILURE = "RETRYABLE_FAILURE"
    PERMANENT_FAILURE = "PERMANENT_FAILURE"


@dataclass(frozen=True)
class HandlerTransition:
    phase: HandlerPhase
    error: ExecutionError | None = None
    outputs_uri: str = ""
    deck_uri: str = ""  # a task's Flyte Deck (deck.html), when it wrote one
    # Task nodes: the plugin's answer (for task events) and its opaque state to persist.
    task_info: PhaseInfo | None = None
    plugin_state: bytes | None = None
    # Branch nodes: the chosen child.
    branch_taken: str = ""
    # Cacheable task nodes: cache_status / catalog_key / reservation_status for the node event.
    task_node_metadata: event_pb2.TaskNodeMetadata | None = None
    # Dynamic nodes: the compiled dynamic workflow, once (offloaded URI + metadata for the node event).
    dynamic_workflow_uri: str = ""
    dynamic_workflow: event_pb2.DynamicWorkflowNodeMetadata | None = None
    # Array nodes: the task event summarizing their sub-tasks this round; the executor records it.
    task_events: tuple[event_pb2.TaskExecutionEvent, ...] = ()

    @classmethod
    def running(cls) -> HandlerTransition:
        return cls(HandlerPhase.RUNNING)

    @classmethod
    def failure(cls, code: str, message: str, kind: ErrorKind = ErrorKind.USER) -> HandlerTransition:
        return cls(HandlerPhase.PERMANENT_FAILURE, error=ExecutionError(code, message, kind))


@dataclass(frozen=True)
class Scope:
    """One workflow level being executed: the top-level workflow or a subworkflow instance."""

    workflow: compiler_pb2.CompiledWorkflow
    inputs: literals_pb2.LiteralMap
    prefix: str = ""  # prepended to node ids to make node paths ("n1-0-" inside subworkflow n1, attempt 0)
    parent_path: str = ""  # the node path that owns this scope ("" at top level)
    parent_attempt: int = 0  # the owning node's retry attempt (the children's retry group)

    def path_of(self, node_id: str) -> str:
        return f"{self.prefix}{node_id}"


class ExecutionFacts(Protocol):
    """The execution a node belongs to: identity, request, where its metadata lives, and this round's clock."""

    @property
    def key(self) -> ExecutionKey: ...

    @property
    def execution_id(self) -> identifier_pb2.WorkflowExecutionIdentifier: ...

    @property
    def request(self) -> dataplane_pb2.CreateExecutionRequest: ...

    @property
    def producer_id(self) -> str: ...

    @property
    def execution_uri(self) -> str: ...

    @property
    def raw_output_prefix(self) -> str: ...

    @property
    def now(self) -> float: ...

    @property
    def frontier(self) -> Frontier | None:
        """The round's incremental evaluation (nodes/frontier.py): what woke the round, and what nested evaluations
        keep between rounds of this record version; None: evaluate everything."""
        ...


class LiteralMaps(Protocol):
    """Node inputs and outputs in the blob store (an absent or empty URI reads as an empty map)."""

    async def read_literal_map(self, uri: str) -> literals_pb2.LiteralMap: ...

    async def write_literal_map(self, uri: str, literal_map: literals_pb2.LiteralMap) -> None: ...


class Templates(Protocol):
    """The closure's task templates and subworkflows; ``include`` adds a dynamic workflow's own."""

    def task_template(self, identifier: identifier_pb2.Identifier) -> tasks_pb2.TaskTemplate: ...

    def subworkflow(self, identifier: identifier_pb2.Identifier) -> compiler_pb2.CompiledWorkflow: ...

    def include(self, closure: compiler_pb2.CompiledWorkflowClosure) -> None: ...


class TaskEventRecorder(Protocol):
    """Task events a handler reports outside a transition (an array node's ABORTED summary on abort)."""

    def task(self, event: event_pb2.TaskExecutionEvent) -> None: ...


class PluginResolver(Protocol):
    def for_task_type(self, task_type: str) -> Plugin: ...


@dataclass(frozen=True)
class NodeTraits:
    """What the node executor needs to know of a node, answered by its handler's ``describe``."""

    # The task a task node runs: its retries, its task events, node events' task_id, the parallelism budget.
    task_id: identifier_pb2.Identifier | None = None
    # The current attempt is a plugin run: the task's per-attempt timeout applies, abort reports it ABORTED.
    plugin_attempt: bool = False
    # Node events: the node has child nodes (branch, subworkflow, a dynamic node running its workflow).
    is_parent: bool = False
    is_array: bool = False
    # Node events: the execution a launch-plan node started (once admin accepted it).
    child_execution: identifier_pb2.WorkflowExecutionIdentifier | None = None


class InputsBlob(enum.Enum):
    """What a node context's ``inputs_uri`` holds."""

    WRITTEN = "written"  # the node's inputs (no blob when they are empty: ExecutionContext.write_node_inputs)
    PENDING = "pending"  # nothing yet (array elements): whatever hands the URI to a process writes ``inputs`` first
    OTHER = "other"  # another map: a flytekit map task's element reads the whole array's inputs and picks its own


@dataclass
class NodeContext:
    """What a handler may see and use for one node: narrow capabilities, not the execution's whole state."""

    execution: ExecutionFacts
    literals: LiteralMaps
    blobs: BlobStore
    templates: Templates
    events: TaskEventRecorder
    plugins: PluginResolver
    resources: ResourceManager | None  # token pools plugins throttle with; None when not configured
    max_system_retries: int  # propeller.max-node-retries-for-system-failures (array elements retry themselves)
    scope: Scope
    node: workflow_pb2.Node
    path: str
    state: NodeState  # read-only for handlers
    inputs: literals_pb2.LiteralMap
    inputs_uri: str
    node_uri: str
    # Evaluate / abort a child DAG (subworkflows) or a single child node (branches) through the node executor.
    execute_dag: Callable[[Scope], Awaitable[DagResult]]
    abort_dag: Callable[[Scope, str], Awaitable[None]]
    execute_child: Callable[[NodeContext, workflow_pb2.Node, str], Awaitable[NodeState]]
    abort_child: Callable[[NodeContext, workflow_pb2.Node, str, str], Awaitable[None]]
    # Extra environment for the task attempt (array sub-nodes: which element this attempt maps).
    task_envs: dict[str, str] = field(default_factory=dict)
    inputs_blob: InputsBlob = InputsBlob.WRITTEN

    def task_template(self) -> tasks_pb2.TaskTemplate:
        return self.templates.task_template(self.node.task_node.reference_id)

    def attempt_dir(self) -> str:
        """This node's current attempt directory (outputs.pb, error.pb, deck.html ...)."""
        return paths.attempt_dir(self.execution.execution_uri, self.path, self.state.attempt)


class NodeHandler(Protocol):
    async def setup(self) -> None: ...

    async def handle(self, ctx: NodeContext) -> HandlerTransition: ...

    async def abort(self, ctx: NodeContext, reason: str) -> None: ...

    async def finalize(self, ctx: NodeContext) -> None: ...

    def finalize_required(self) -> bool: ...

    def describe(self, ctx: NodeContext) -> NodeTraits: ...


class PlainNodeHandler:
    """Defaults for a node kind with no client to set up, nothing to finalize and no traits beyond the defaults."""

    async def setup(self) -> None:
        return None

    def finalize_required(self) -> bool:
        return False

    async def finalize(self, ctx: NodeContext) -> None:
        return None

    def describe(self, ctx: NodeContext) -> NodeTraits:
        return NodeTraits()
