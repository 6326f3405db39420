"""Repository Protocols. Every call runs inside the caller's transaction (one ``Repositories`` per transaction).

Managers see only these Protocols and the rows of ``models/``; the SQL lives in ``sql/`` (SqlRepositories).

Invariants the SQL implementations keep:
- identities are unique: an execution name per (org, project, domain); a node execution per (execution, node id);
  a task execution per (node execution, task id, retry attempt); an entity version per (resource type, org,
  project, domain, name, version); a project per (org, id); attributes per (scope, resource type); a signal per
  (execution, signal id). ``add`` of executions, projects and signals flushes, so a duplicate fails there and nothing
  after it in the transaction runs; other rows are staged and fail at the next ``flush`` or the commit. Either way
  the transaction raises ``AlreadyExists`` (aloft_db maps the unique violation when the block exits).
- ``get`` returns ``None`` when the row is absent; managers turn that into ``NotFound`` naming the identifier.
- ``get(..., for_update=True)`` locks the row until the transaction ends (PostgreSQL; SQLite serialises writers).
- rows of executions, node executions and task executions carry a version: ``Repositories.flush`` writes the
  changes made to rows read in this transaction and raises ``Aborted`` (retryable) when a concurrent writer changed
  one of them first, so no update is ever lost.
- at most one version of a launch plan name is ACTIVE (a partial unique index; ``deactivate`` before activating).
- ``page`` answers one page: Flyte filters (``filters.py``), sort, and the offset token of the next page ("" at
  the end); a bad filter or sort key raises ``InvalidArgument`` naming it.
- an OAuth grant (code, refresh token) is consumed at most once: ``consume`` is one conditional DELETE.
- outbox rows of a stream get increasing ids in insertion order; a row is never changed by another stream's calls.
- the hand-off updates of ``ExecutionRepo`` are conditional single statements: they change a row only in the
  state their name says (``mark_handed_off`` only a pending row, ``abort_if_cancelled`` only a cancelled one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeAlias, TypeVar

from flyteidl.admin import common_pb2
from flyteidl.core import identifier_pb2

from aloft_admin.repositories.keys import ListQuery, Scope
from aloft_admin.repositories.models.entities import (
    DescriptionEntityRow,
    LaunchPlanRow,
    MatchableAttributeRow,
    NamedEntityRow,
    ProjectRow,
    TaskRow,
    WorkflowRow,
)
from aloft_admin.repositories.models.executions import (
    ExecutionModel,
    NewExecution,
    NodeExecutionModel,
    TaskExecutionModel,
)
from aloft_admin.repositories.models.oauth import OAuthGrantModel
from aloft_admin.repositories.models.outbox import OutboxModel
from aloft_admin.repositories.models.signals import SignalModel

VersionedRow = TypeVar("VersionedRow", TaskRow, WorkflowRow, LaunchPlanRow, DescriptionEntityRow)
EntityRow: TypeAlias = TaskRow | WorkflowRow | LaunchPlanRow | DescriptionEntityRow | NamedEntityRow | ProjectRow
WorkflowExecutionId: TypeAlias = identifier_pb2.WorkflowExecutionIdentifier
NamedId: TypeAlias = common_pb2.NamedEntityIdentifier


class ExecutionRepo(Protocol):
    async def get(self, wid: WorkflowExecutionId, *, for_update: bool = False) -> ExecutionModel | None: ...

    async def get_by_row_id(self, row_id: int, *, for_update: bool = False) -> ExecutionModel | None: ...

    async def cluster_of(self, wid: WorkflowExecutionId) -> str | None:
        """The cluster the execution was handed to ("" before the hand-off); None when there is no execution."""

    async def add(self, row: ExecutionModel) -> None:
        """Insert with one statement: a used name raises ``AlreadyExists`` from this call."""

    async def page(self, scope: NamedId, query: ListQuery) -> tuple[list[ExecutionModel], str]:
        """Executions of a project/domain (and launch name), newest first; archived ones only when the filters
        name ``state`` (flyteadmin)."""

    async def mark_handed_off(self, wid: WorkflowExecutionId, cluster: str, shard_key: str, now: datetime) -> bool:
        """Phase 1 of the hand-off committed: pending → starting (UNDEFINED → QUEUED, a later phase stays); False
        when the row was no longer pending."""

    async def mark_started(self, wid: WorkflowExecutionId) -> None:
        """Phase 2 delivered (the held run was released): starting → done."""

    async def mark_handed_off_each(
        self, wids: Sequence[WorkflowExecutionId], cluster: str, shard_key: str, now: datetime
    ) -> set[tuple[str, str, str, str]]:
        """``mark_handed_off`` for several executions in one statement: the (org, project, domain, name) of those
        that moved."""

    async def mark_started_each(self, wids: Sequence[WorkflowExecutionId]) -> None:
        """``mark_started`` for several executions in one statement."""

    async def delay_handoff(self, row_id: int, error: str, retry_at: datetime) -> None:
        """Count a failed hand-off and set when to try again."""

    async def abort_if_cancelled(self, wid: WorkflowExecutionId, cluster: str) -> None:
        """A row cancelled while its hand-off was in flight: record the cluster and that its abort is pending."""

    async def abort_delivered(self, row_id: int) -> None: ...

    async def delay_abort(self, row_id: int, retry_at: Callable[[int], datetime]) -> None:
        """Count a failed abort and try again at ``retry_at(attempts so far)``."""

    async def due_handoffs(self, now: datetime, never_tried_before: datetime, limit: int) -> list[ExecutionModel]:
        """Pending or starting hand-offs due for a retry, earliest due first (rows never retried wait
        ``never_tried_before``)."""

    async def due_aborts(self, now: datetime, never_tried_before: datetime, limit: int) -> list[ExecutionModel]: ...


class NodeExecutionRepo(Protocol):
    async def get(
        self, nid: identifier_pb2.NodeExecutionIdentifier, *, for_update: bool = False
    ) -> NodeExecutionModel | None: ...

    async def add(self, row: NodeExecutionModel) -> None:
        """Stage the row; it is written by ``Repositories.flush`` (a concurrent first event raises there)."""

    async def for_event(self, nid: identifier_pb2.NodeExecutionIdentifier) -> NodeExecutionModel | None:
        """The row an event applies to, locked for update. Unlike ``get``, a row staged in this transaction comes
        back as it is, not written first (its id may be unset until the next flush): a batch's later events for
        a row its earlier event created cost no statement of their own."""

    async def exists(self, nid: identifier_pb2.NodeExecutionIdentifier) -> bool:
        """Whether the node execution exists; a row staged in this transaction counts and is not written for it
        (a batch's task events check their node's row without a flush each)."""

    async def prefetch(self, nids: Sequence[identifier_pb2.NodeExecutionIdentifier]) -> None:
        """Load these rows locked for update, one statement per execution: ``get`` of any of them (found or absent)
        then needs no query in this transaction (for a batch of events)."""

    async def prefetch_existing(self, nids: Sequence[identifier_pb2.NodeExecutionIdentifier]) -> None:
        """Note which of these node executions exist, one statement per execution (no rows loaded, no lock):
        ``exists`` of one found then needs no query (a batch's first task events check their node's row). One not
        found is still looked up by ``exists``, so a node committed meanwhile by another transaction is seen."""

    async def by_row_ids(self, ids: Sequence[int]) -> dict[int, NodeExecutionModel]: ...

    async def all_of(self, wid: WorkflowExecutionId) -> list[NodeExecutionModel]: ...

    async def page(
        self,
        wid: WorkflowExecutionId,
        query: ListQuery,
        *,
        parent_id: int | None = None,
        parent_task_execution_id: int | None = None,
        top_level: bool = False,
    ) -> tuple[list[NodeExecutionModel], str]:
        """One page of an execution's node executions: children of ``parent_id`` or of a task execution, or only
        top-level nodes (``top_level``), or all of them."""


class TaskExecutionRepo(Protocol):
    async def get(
        self, tid: identifier_pb2.TaskExecutionIdentifier, *, for_update: bool = False
    ) -> TaskExecutionModel | None: ...

    async def add(self, row: TaskExecutionModel) -> None:
        """Stage the row; it is written by ``Repositories.flush``."""

    async def for_event(self, tid: identifier_pb2.TaskExecutionIdentifier) -> TaskExecutionModel | None:
        """As ``NodeExecutionRepo.for_event``, for a task execution attempt."""

    async def prefetch(self, tids: Sequence[identifier_pb2.TaskExecutionIdentifier]) -> None:
        """As ``NodeExecutionRepo.prefetch``, for task execution attempts."""

    async def all_of(self, wid: WorkflowExecutionId) -> list[TaskExecutionModel]: ...

    async def page(
        self, nid: identifier_pb2.NodeExecutionIdentifier, query: ListQuery
    ) -> tuple[list[TaskExecutionModel], str]: ...


class EntityRepo(Protocol):
    """Versioned entities (tasks, workflows, launch plans, description entities) and their side rows."""

    async def get(self, model: type[VersionedRow], id: identifier_pb2.Identifier) -> VersionedRow | None: ...

    def add(self, row: EntityRow) -> None:
        """Stage the row; written at the next flush or the commit (a duplicate version raises there)."""

    async def list_versions(
        self, model: type[VersionedRow], id: NamedId, query: ListQuery
    ) -> tuple[list[VersionedRow], str]:
        """Versions in a project/domain (and name), newest first unless the query sorts."""

    async def list_names(
        self, model: type[VersionedRow], project: str, domain: str, org: str, query: ListQuery
    ) -> tuple[list[NamedId], str]:
        """Distinct names; timestamps sort by each name's newest version."""

    async def get_named_entity(self, resource_type: int, id: NamedId) -> NamedEntityRow | None: ...

    async def list_named_entities(
        self, resource_type: int, project: str, domain: str, org: str, query: ListQuery
    ) -> tuple[list[NamedEntityRow], str]: ...

    async def get_description_entity(self, id: identifier_pb2.Identifier) -> DescriptionEntityRow | None: ...

    async def list_description_entities(
        self, resource_type: int, id: NamedId, query: ListQuery
    ) -> tuple[list[DescriptionEntityRow], str]: ...


class LaunchPlanRepo(Protocol):
    async def active(self, id: NamedId) -> LaunchPlanRow | None:
        """The ACTIVE version of a launch plan name (at most one)."""

    async def deactivate(self, id: NamedId, now: datetime) -> None:
        """Set the active version of the name INACTIVE (before activating another in the same transaction)."""

    async def page_active(
        self, project: str, domain: str, org: str, query: ListQuery
    ) -> tuple[list[LaunchPlanRow], str]: ...

    async def scheduled(self) -> list[LaunchPlanRow]:
        """Every ACTIVE version that carries a schedule (what a scheduler must run)."""


class ProjectRepo(Protocol):
    async def get(self, project_id: str, org: str = "") -> ProjectRow | None: ...

    async def add(self, row: ProjectRow) -> None:
        """Insert and flush: an existing id raises ``AlreadyExists``."""

    async def page(self, org: str, query: ListQuery) -> tuple[list[ProjectRow], str]:
        """Sorted by id; archived projects hidden unless filtered for; limit 0 means every project."""


class AttributeRepo(Protocol):
    async def get(self, scope: Scope, resource_type: str) -> MatchableAttributeRow | None:
        """The row of exactly this scope."""

    async def most_specific(self, scope: Scope, resource_type: str) -> MatchableAttributeRow | None:
        """The highest-priority row whose scope contains ``scope`` (launch plan > workflow > project-domain >
        project > domain)."""

    async def most_specific_each(
        self, scope: Scope, resource_types: Sequence[str]
    ) -> dict[str, MatchableAttributeRow]: ...

    async def all_of_type(self, resource_type: str, org: str) -> list[MatchableAttributeRow]:
        """Every row of a resource type, ordered by project, domain, workflow, launch plan."""

    def add(self, row: MatchableAttributeRow) -> None: ...

    async def delete(self, row: MatchableAttributeRow) -> None: ...


class SignalRepo(Protocol):
    async def get(self, signal: identifier_pb2.SignalIdentifier) -> SignalModel | None: ...

    async def add(self, row: SignalModel) -> SignalModel:
        """Insert and flush: a concurrent create of the same signal raises ``AlreadyExists``."""

    async def set_value(self, row: SignalModel, value: bytes, now: datetime) -> None: ...

    async def page(self, execution: WorkflowExecutionId, query: ListQuery) -> tuple[list[SignalModel], str]:
        """An execution's signals, in creation order unless the query sorts."""


class OutboxRepo(Protocol):
    """The egress outbox: rows staged in an event's transaction, delivered (in id order per stream) afterwards."""

    def add(self, stream: str, kind: str, payload: bytes, now: datetime) -> None:
        """Stage a message in this transaction: it commits or rolls back with the event that caused it."""

    def after_commit(self, key: str, callback: Callable[[], None]) -> None:
        """Run ``callback`` once after this transaction commits (once per ``key``, however often it is asked)."""

    async def has_rows(self, stream: str) -> bool: ...

    async def count(self, stream: str) -> int:
        """Rows waiting in the stream (the outbox depth metric)."""

    async def head(self, stream: str, limit: int) -> list[OutboxModel]:
        """The oldest rows, due or not (an ordered stream waits for its head)."""

    async def due(self, stream: str, now: datetime, limit: int) -> list[OutboxModel]:
        """The oldest rows whose retry time has come."""

    async def remove(self, ids: Sequence[int]) -> None: ...

    async def defer(self, row_id: int, attempts: int, retry_at: datetime, error: str) -> None: ...

    async def claim_lease(self, stream: str, holder: str, now: datetime, until: datetime) -> bool:
        """Take or renew the stream's lease: true when ``holder`` holds it until ``until``; false while another
        holder's lease runs (one dispatcher per stream across replicas)."""

    async def release_lease(self, stream: str, holder: str) -> None: ...


class OAuthGrantRepo(Protocol):
    """The authorization server's codes and refresh tokens, by the SHA-256 hash of their value."""

    def add(self, row: OAuthGrantModel) -> None: ...

    async def get(self, kind: str, key_hash: str, client_id: str, now: datetime) -> OAuthGrantModel | None:
        """The client's unexpired grant (another client's is None)."""

    async def consume(self, kind: str, key_hash: str) -> bool:
        """Delete the grant; False when it was already gone (another redemption, on any replica, won)."""

    async def sweep(self, now: datetime) -> int:
        """Delete expired grants; how many."""


class Flush(Protocol):
    async def __call__(self) -> None: ...


@dataclass
class Repositories:
    executions: ExecutionRepo
    node_executions: NodeExecutionRepo
    task_executions: TaskExecutionRepo
    entities: EntityRepo
    launch_plans: LaunchPlanRepo
    projects: ProjectRepo
    attributes: AttributeRepo
    signals: SignalRepo
    outbox: OutboxRepo
    oauth_grants: OAuthGrantRepo
    flush: Flush
    """Write pending changes now; a lost version race raises ``Aborted`` (retry from fresh state)."""


class RowsRefused(Exception):
    """A statement refused by an integrity check other than a taken name or a missing reference (nothing of it was
    written); the database's error is its ``__cause__``."""


class HandoffMarkRepo(Protocol):
    """The hand-off's two marks, outside any unit of work (``RepositoryProvider.handoff_marks``)."""

    async def mark_handed_off_each(
        self, wids: Sequence[WorkflowExecutionId], cluster: str, shard_key: str, now: datetime
    ) -> set[tuple[str, str, str, str]]:
        """``ExecutionRepo.mark_handed_off_each``."""

    async def mark_started_each(self, wids: Sequence[WorkflowExecutionId]) -> None:
        """``ExecutionRepo.mark_started_each``."""


class PlainReads(Protocol):
    """The hot one-statement reads, outside any unit of work (no session, no ORM objects): each runs on its own
    on a pooled connection. Rows carry the models' column attributes, read-only. Listings take no filter or sort
    key (``ListQuery.plain``); their pages, order and tokens are those of the ``page`` methods."""

    async def execution(self, wid: WorkflowExecutionId) -> ExecutionModel | None: ...

    async def node_executions_page(
        self, wid: WorkflowExecutionId, query: ListQuery, *, parent_id: int | None = None
    ) -> tuple[list[NodeExecutionModel], str]:
        """Top-level nodes of an execution, or the children of the node execution row ``parent_id``."""
        ...

    async def task_executions_page(
        self, nid: identifier_pb2.NodeExecutionIdentifier, query: ListQuery
    ) -> tuple[list[TaskExecutionModel], str]: ...


class RepositoryProvider(Protocol):
    @property
    def reads(self) -> PlainReads:
        """The hot one-statement reads, outside any unit of work."""
        ...

    def transaction(
        self, *, batched: bool = False, reads: bool = False, single_write: bool = False
    ) -> AbstractAsyncContextManager[Repositories]:
        """One unit of work: committed when the block succeeds, rolled back otherwise; database errors arrive as
        ``aloft_service.errors`` (UNAVAILABLE, ALREADY_EXISTS, ABORTED). ``batched`` (many events in one unit):
        ``flush`` writes nothing; staged rows are written before a read that needs them and at the end, so errors
        (a duplicate insert, a lost version race) may surface at any later step of the block. ``reads`` (a block
        that only reads, and needs no snapshot shared by its statements): each statement may run on its own,
        without a transaction around it and with nothing committed at the end (PostgreSQL: no BEGIN / COMMIT round
        trips); staging a write in such a block raises. ``single_write``: the same
        for a block that reads and then writes with one statement, last: that statement commits when it returns."""

    async def insert_executions(self, rows: Sequence[NewExecution]) -> list[bool]:
        """New executions (distinct names) inserted with one statement that commits on its own, outside any unit of
        work: True for each row inserted (its ``id`` set), False for each whose name is taken (nothing written).
        A statement the database refuses writes nothing and raises ``FailedPrecondition`` (a missing reference) or
        ``RowsRefused`` (any other integrity check)."""
        ...

    def handoff_marks(self, *, one_statement: bool) -> AbstractAsyncContextManager[HandoffMarkRepo]:
        """The hand-off marks outside any unit of work: committed when the block succeeds. ``one_statement`` (the
        block writes with one statement): that statement commits on its own."""
        ...
