"""The task plugin contract (the analogue of flyteplugins' pluginmachinery core.Plugin).

Duties of every plugin:
- ``handle`` may be called many times for the same attempt (every evaluation round, and again after a crash).
  It must be idempotent: the attempt is identified by ``ctx.unique_id`` (deterministic: execution, node, retry
  attempt), and a second call must observe / adopt the already-started work, never start it twice.
- ``abort`` and ``finalize`` may be repeated and must be safe when nothing is running.
- On SUCCESS the outputs are at ``ctx.output_prefix/outputs.pb`` (a LiteralMap; written by the task itself or by
  the plugin, e.g. for raw containers). On a failure the plugin reports an ``ExecutionError``; when the task wrote
  ``error.pb`` (an ErrorDocument), its kind (USER/SYSTEM) and message are used.
- Plugins never write workflow state or send events: they return a ``PhaseInfo`` and the node executor does both.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from flyteidl.core import identifier_pb2, literals_pb2, security_pb2, tasks_pb2
from google.protobuf import struct_pb2

from aloft_propeller.execution_error import ErrorKind, ExecutionError
from aloft_propeller.resourcemanager.base import TaskResourceManager
from aloft_storage import BlobStore

__all__ = [
    "ErrorKind",
    "ExecutionError",
    "Phase",
    "PhaseInfo",
    "Plugin",
    "PluginAnswer",
    "Resources",
    "TaskExecutionContext",
    "TaskLog",
]


class Phase(enum.IntEnum):
    UNDEFINED = 0
    NOT_READY = 1  # waiting on a resource (concurrency slot, quota)
    WAITING_FOR_RESOURCES = 2
    QUEUED = 3
    INITIALIZING = 4
    RUNNING = 5
    SUCCESS = 6
    RETRYABLE_FAILURE = 7
    PERMANENT_FAILURE = 8

    @property
    def is_terminal(self) -> bool:
        return self in (Phase.SUCCESS, Phase.RETRYABLE_FAILURE, Phase.PERMANENT_FAILURE)


@dataclass(frozen=True)
class TaskLog:
    name: str
    uri: str


@dataclass(frozen=True)
class PhaseInfo:
    phase: Phase
    # Bumped when something worth an event changes inside the same phase (new logs, reason).
    version: int = 0
    reason: str = ""
    occurred_at: datetime | None = None
    logs: tuple[TaskLog, ...] = ()
    error: ExecutionError | None = None
    custom_info: struct_pb2.Struct | None = None


@dataclass(frozen=True)
class PluginAnswer:
    """The plugin's answer to ``handle`` for one attempt: its phase, plus opaque plugin state persisted with the node
    and passed back on the next call."""

    info: PhaseInfo
    plugin_state: bytes = b""


@dataclass(frozen=True)
class Resources:
    cpu: str = ""
    memory: str = ""
    gpu: str = ""
    ephemeral_storage: str = ""


@dataclass(frozen=True)
class TaskExecutionContext:
    """Everything a plugin may read about one attempt. Paths are blob-store URIs."""

    task_execution_id: identifier_pb2.TaskExecutionIdentifier
    unique_id: str
    template: tasks_pb2.TaskTemplate
    inputs_uri: str  # .../inputs.pb (LiteralMap)
    output_prefix: str  # outputs.pb / error.pb / deck go here
    raw_output_prefix: str
    checkpoint_prefix: str
    prev_checkpoint_prefix: str
    blobs: BlobStore
    attempt: int = 0
    plugin_state: bytes = b""
    envs: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    interruptible: bool = False
    resource_requests: Resources = Resources()
    resource_limits: Resources = Resources()
    timeout: timedelta | None = None
    # Execution-level identity flytekit expects in its environment.
    workflow_name: str = ""
    launch_plan_name: str = ""
    # Token pools of the plugin's throttled resources, scoped to this attempt's execution (None: not throttled).
    resources: TaskResourceManager | None = None
    # The execution's security context (service account, secrets) and the platform's TASK_RESOURCE defaults and
    # limits (matchable attributes or `task_resources`), for plugins that size containers themselves (k8s pods).
    security_context: security_pb2.SecurityContext | None = None
    platform_resource_defaults: Resources = Resources()
    platform_resource_limits: Resources = Resources()
    # The attempt's inputs as the engine holds them (what ``inputs_uri`` holds, or will hold once written); None:
    # read ``inputs_uri`` (``io.read_inputs``). With ``inputs_pending`` the blob may not exist yet (an array element's
    # inputs are written only for a process that reads them): whatever hands the URI to a process writes ``inputs``
    # there first (``io.ensure_inputs_blob``). Otherwise a node's inputs.pb exists when its inputs are not empty.
    inputs: literals_pb2.LiteralMap | None = None
    inputs_pending: bool = False


@runtime_checkable
class Plugin(Protocol):
    """A task executor for one or more task types. See the module docstring for the idempotency duties."""

    @property
    def id(self) -> str: ...

    @property
    def task_types(self) -> tuple[str, ...]: ...

    async def handle(self, ctx: TaskExecutionContext) -> PluginAnswer: ...

    async def abort(self, ctx: TaskExecutionContext, reason: str) -> None: ...

    async def finalize(self, ctx: TaskExecutionContext) -> None: ...
