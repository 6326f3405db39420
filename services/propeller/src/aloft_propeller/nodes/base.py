"""The node handler contract and the narrow context handlers get.

A node kind is five methods: ``setup``, ``handle``, ``abort``, ``finalize``, ``finalize_required``. ``handle``
returns a frozen ``HandlerTransition``; only the node executor writes node status, sends events, retries and
times out. ``handle`` may be called many times for the same attempt (every round, and after a crash) and must
adopt work already started; ``abort``/``finalize`` are safe to repeat.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from flyteidl.core import compiler_pb2, literals_pb2, tasks_pb2, workflow_pb2
from flyteidl.event import event_pb2

from aloft_propeller.execution_error import ErrorKind, ExecutionError
from aloft_propeller.plugins.base import PhaseInfo
from aloft_propeller.state import NodeState

if TYPE_CHECKING:
    from aloft_propeller.nodes.executor import DagResult, ExecutionContext


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


@dataclass
class NodeContext:
    """What a handler may see and use for one node."""

    execution: ExecutionContext
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

    def task_template(self) -> tasks_pb2.TaskTemplate:
        return self.execution.task_template(self.node.task_node.reference_id)


class NodeHandler(Protocol):
    async def setup(self) -> None: ...

    async def handle(self, ctx: NodeContext) -> HandlerTransition: ...

    async def abort(self, ctx: NodeContext, reason: str) -> None: ...

    async def finalize(self, ctx: NodeContext) -> None: ...

    def finalize_required(self) -> bool: ...
