"""The workflow store: the data plane's record of each execution (the analogue of Flyte's FlyteWorkflow CR).

Invariants every implementation keeps:
- ``create`` is idempotent on (project, domain, name): the same spec returns the stored record
  (``already_existed=True``); a different spec raises ``AlreadyExists``.
- ``update`` is optimistic: it succeeds only if the stored ``resource_version`` still equals the record's, and
  returns the record with the new version; otherwise it raises ``StaleRecord`` (gRPC ABORTED) and writes nothing.
  Callers re-read and re-apply their change; nothing is ever silently overwritten.
- ``get`` raises ``NotFound`` naming the execution.
- ``update`` writes the state and version in one transaction: all of it, or none.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

from aloft_propeller.state import StateDelta, WorkflowState
from aloft_service.errors import Aborted

KEY_SPACE = 32  # shard keys are 0..31 (Flyte's ShardKeyspaceSize); hash shards divide them


@dataclass(frozen=True, order=True)
class ExecutionKey:
    project: str
    domain: str
    name: str

    def __str__(self) -> str:
        return f"{self.project}/{self.domain}/{self.name}"


@dataclass(frozen=True)
class WorkflowRecord:
    key: ExecutionKey
    spec: bytes  # a serialized aloft.dataplane.v1.CreateExecutionRequest
    state: WorkflowState = field(default_factory=WorkflowState, compare=False)
    shard_key: str = ""
    cluster: str = ""
    resource_version: int = 0
    terminal: bool = False  # terminal phase and no undelivered events (``WorkflowState.finished``)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def with_state(self, state: WorkflowState) -> WorkflowRecord:
        return replace(self, state=state, terminal=state.finished)


class StaleRecord(Aborted):
    """The record changed since it was read (resource version mismatch)."""


@dataclass(frozen=True)
class Page:
    records: list[WorkflowRecord]
    next_token: str


class WorkflowStore(Protocol):
    async def create(self, record: WorkflowRecord) -> tuple[WorkflowRecord, bool]: ...

    async def get(self, key: ExecutionKey) -> WorkflowRecord: ...

    async def update(self, record: WorkflowRecord, delta: StateDelta | None = None) -> WorkflowRecord:
        """``delta``: what changed since the stored version (``StateEncoder.delta``), written instead of the whole
        state (costly for large states)."""
        ...

    async def page(self, limit: int, token: str = "", only_active: bool = False) -> Page: ...

    async def active_keys(self) -> list[ExecutionKey]: ...
