"""What the three event managers share: one skeleton (``EventKind`` + ``EventRecorder``), verdict → error mapping,
cluster check, offloading, time arithmetic.

Every event, single or batched, goes through ``EventRecorder.record_in``: output size → load the row (cluster check
first) → create it (first event) or judge the phase transition → apply → flush. A kind (workflow, node, task events)
supplies only what differs: how its row is found, created and updated.
"""

from __future__ import annotations

import asyncio
import random
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from google.protobuf import timestamp_pb2
from google.protobuf.message import Message

from aloft_admin.integrations.egress import EventEgress
from aloft_admin.managers.events_group import EventGroups
from aloft_admin.repositories.base import Repositories, RepositoryProvider
from aloft_admin.repositories.models.executions import ExecutionModel, NodeExecutionModel, TaskExecutionModel
from aloft_admin.transformers.timestamps import Clock, aware, from_timestamp
from aloft_admin.transitions import Decision, Policy, Transition, Verdict
from aloft_admin.validation.execution_identifiers import describe_execution
from aloft_service.errors import (
    Aborted,
    AloftError,
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
)
from aloft_storage import BlobStore

T = TypeVar("T")
Row = TypeVar("Row", ExecutionModel, NodeExecutionModel, TaskExecutionModel)
Response = TypeVar("Response")

# Events from a producer that never said which cluster it is are accepted anywhere (Flyte's default producer id).
DEFAULT_PRODUCER_ID = "propeller"


class HasOutputResult(Protocol):
    """Workflow, node and task events: the ``output_result`` oneof."""

    @property
    def output_uri(self) -> str: ...

    @property
    def output_data(self) -> literals_pb2.LiteralMap: ...

    def WhichOneof(self, oneof_group: str) -> str | None: ...


class HasInputs(Protocol):
    """Node and task events: inputs by reference or inline."""

    @property
    def input_uri(self) -> str: ...

    @property
    def input_data(self) -> literals_pb2.LiteralMap: ...

    def HasField(self, field_name: str) -> bool: ...


class HasProducer(HasOutputResult, Protocol):
    @property
    def producer_id(self) -> str: ...


Event = TypeVar("Event", bound=HasProducer)
EventT_co = TypeVar("EventT_co", bound=HasProducer, covariant=True)


class LiteralOffload:
    """Where events' inline literal maps (and dynamic workflows) go: the blob store, under the metadata prefix;
    rows and closures keep only the URIs."""

    def __init__(self, blobs: BlobStore, metadata_prefix: str) -> None:
        self._blobs = blobs
        self._prefix = metadata_prefix

    async def write(self, message: Message, *parts: str) -> str:
        uri = self._blobs.uri(self._prefix, *parts)
        await self._blobs.write_proto(uri, message)
        return uri

    async def inputs(self, event: HasInputs, recorded: str, *parts: str) -> str:
        """Where the event's inputs are: its ``input_uri``, else its inline inputs written under ``parts``, else
        what was ``recorded`` before."""
        if event.input_uri:
            return event.input_uri
        if event.HasField("input_data"):
            return await self.write(event.input_data, *parts, "inputs.pb")
        return recorded

    async def outputs(self, event: HasOutputResult, *parts: str) -> str | None:
        """Where the event's outputs are: its ``output_uri``, else its inline outputs written under ``parts``; None
        when it reports no outputs (an error, or nothing)."""
        result = event.WhichOneof("output_result")
        if result == "output_uri":
            return event.output_uri
        if result == "output_data":
            return await self.write(event.output_data, *parts, "outputs.pb")
        return None


class EventRecorder:
    """The skeleton every event goes through, single or batched: output size → load the row (cluster check first)
    → create it (first event) or judge the phase transition → apply → egress → flush. Concurrent single events
    are committed in groups by ``events_group.EventGroups``, which calls back into this recorder."""

    def __init__(self, repos: RepositoryProvider, egress: EventEgress, max_output_bytes: int) -> None:
        self._repos = repos
        self._egress = egress
        self._max_output_bytes = max_output_bytes

    async def record_in(self, tx: Repositories, kind: EventKind[Event, Row, Any], event: Event, at: datetime) -> None:
        """Every rule of an event, inside the caller's transaction (a single event's, or a batch's)."""
        refusal = await self.record_unless_refused(tx, kind, event, at)
        if refusal is not None:
            raise refusal

    async def record_unless_refused(
        self, tx: Repositories, kind: EventKind[Event, Row, Any], event: Event, at: datetime
    ) -> AloftError | None:
        """``record_in``, answering with (not raising) a refusal judged before anything of the event was staged,
        so the transaction can go on with other events (a group commit)."""
        try:
            row = await self._judged(tx, kind, event)
        except AloftError as exc:
            if not _clean_refusal(exc):
                raise
            return exc
        if row is None:
            row = await kind.create(tx, event, at)
        await kind.apply(row, event, at)
        self._egress.recorded(tx, event, row)  # cloud events, notifications: staged in this transaction
        await tx.flush()
        return None

    async def _judged(self, tx: Repositories, kind: EventKind[Event, Row, Any], event: Event) -> Row | None:
        """The event's row (None for a first event) once the event passed every check that stages nothing."""
        check_output_size(event, self._max_output_bytes)
        what = kind.describe(event)
        row = await kind.load(tx, event, what)
        if row is not None:
            raise_if_refused(kind.policy.evaluate(kind.transition(row, event)), row.phase, what)
        return row

    async def record_alone(self, kind: EventKind[Event, Row, Any], event: Event, at: datetime) -> None:
        """One event in its own transaction, rerun from fresh state when it loses a race (see below)."""

        async def once() -> None:
            async with self._repos.transaction() as tx:
                await self.record_in(tx, kind, event, at)

        await retry_on_concurrent_create(once)


def _clean_refusal(error: AloftError) -> bool:
    """A verdict on the event (not a lost race, a database error or a write that failed): nothing was staged."""
    if isinstance(error, (Aborted, Unavailable)):
        return False
    return not isinstance(error, AlreadyExists) or isinstance(error, DuplicateEvent)


class HasEvent(Protocol[EventT_co]):
    """CreateWorkflowEvent / CreateNodeEvent / CreateTaskEvent requests."""

    @property
    def event(self) -> EventT_co: ...

    def HasField(self, field_name: str) -> bool: ...


class EventKind(ABC, Generic[Event, Row, Response]):
    """What one kind of event (workflow, node or task) adds to the shared skeleton. Each kind's manager is one of
    these: its RPC (``record``) checks the request and hands the event to the recorder with itself as the kind."""

    policy: Policy
    response: Callable[[], Response]  # the RPC's (empty) answer

    def __init__(self, recorder: EventRecorder, groups: EventGroups, clock: Clock, offload: LiteralOffload) -> None:
        self.recorder = recorder
        self.groups = groups  # single-event RPCs: one transaction per group of concurrent events
        self.clock = clock
        self.offload = offload

    async def record(self, request: HasEvent[Event]) -> Response:
        """The single-event RPC: the checks that need no database, then the event in its own transaction (a
        concurrent first event for the same row may win the insert: the recorder reruns it, as an update)."""
        if not request.HasField("event"):
            raise InvalidArgument("missing event")
        event = request.event
        await self.groups.record(self, event, self.checked(event))
        return self.response()

    async def prefetch(self, tx: Repositories, events: Sequence[Event]) -> None:
        """Read (and lock) the rows of many events in a few statements; ``load`` then finds them in ``tx``."""

    @abstractmethod
    def checked(self, event: Event) -> datetime:
        """The checks that need no database; returns when the event occurred."""

    @abstractmethod
    def describe(self, event: Event) -> str:
        """The execution the event is about, as error messages name it."""

    @abstractmethod
    async def load(self, tx: Repositories, event: Event, what: str) -> Row | None:
        """The row the event updates, locked for update, after the cluster check; None for a first event."""

    @abstractmethod
    async def create(self, tx: Repositories, event: Event, at: datetime) -> Row:
        """The row of a first event (staged in ``tx``)."""

    @abstractmethod
    def transition(self, row: Row, event: Event) -> Transition: ...

    @abstractmethod
    async def apply(self, row: Row, event: Event, at: datetime) -> None:
        """Write the event into the row (and the blob store); the transition is already accepted."""


class DuplicateEvent(AlreadyExists):
    """The phase (and phase version) is already recorded: ALREADY_EXISTS as flyteadmin answers, nothing written.
    Producers (Flyte's propeller, ours) count that code as delivered."""


def raise_if_refused(verdict: Verdict, current_phase: str, what: str) -> None:
    """ALREADY_EXISTS for duplicates; FAILED_PRECONDITION (with Flyte's ``EventFailureReason`` details for
    terminal refusals) for invalid transitions."""
    if verdict.decision is Decision.DUPLICATE:
        raise DuplicateEvent(f"{what}: {verdict.reason}")
    if verdict.decision is Decision.REJECT_TERMINAL:
        details = admin_event_pb2.EventFailureReason(
            already_in_terminal_state=admin_event_pb2.EventErrorAlreadyInTerminalState(current_phase=current_phase)
        )
        raise FailedPrecondition(f"{what}: {verdict.reason}", details=details)
    if verdict.decision is Decision.REJECT_INVALID:
        raise FailedPrecondition(f"{what}: {verdict.reason}")


def check_output_size(event: HasOutputResult, limit: int) -> None:
    """Inline outputs above ``remoteData.maxSizeInBytes`` are refused before anything is stored (flyteadmin's
    ValidateOutputData): the producer must offload them and send ``output_uri``."""
    if event.WhichOneof("output_result") != "output_data":
        return
    size = event.output_data.ByteSize()
    if size > limit:
        raise ResourceExhausted(f"Output data size exceeds platform configured threshold ({size} > {limit})")


async def check_event_cluster(
    tx: Repositories, wid: identifier_pb2.WorkflowExecutionIdentifier, producer_id: str, what: str
) -> None:
    """The cluster check of node and task events (workflow events read the row anyway); NOT_FOUND when the
    execution does not exist. Runs before any duplicate check, as in flyteadmin."""
    cluster = await tx.executions.cluster_of(wid)
    if cluster is None:
        raise NotFound(f"{describe_execution(wid)} not found")
    check_cluster(cluster, producer_id, what)


def check_cluster(recorded_cluster: str, producer_id: str, what: str) -> None:
    """An execution handed to one cluster accepts events only from that cluster (or Flyte's default producer)."""
    if not recorded_cluster or producer_id == DEFAULT_PRODUCER_ID:
        return
    if producer_id != recorded_cluster:
        details = admin_event_pb2.EventFailureReason(
            incompatible_cluster=admin_event_pb2.EventErrorIncompatibleCluster(cluster=recorded_cluster)
        )
        raise FailedPrecondition(
            f"{what} is running on cluster {recorded_cluster!r}, refusing an event from {producer_id!r}",
            details=details,
        )


def occurred_at(stamp: timestamp_pb2.Timestamp, field: str) -> datetime:
    if stamp.seconds == 0 and stamp.nanos == 0:
        raise InvalidArgument(f"missing {field}")
    return from_timestamp(stamp)


def seconds_between(start: datetime | None, end: datetime) -> float:
    if start is None:
        return 0.0
    return max((end - aware(start)).total_seconds(), 0.0)


# Bounded: a burst of events for one row settles within a few rounds; an endless conflict is a bug to surface.
MAX_EVENT_TRANSACTIONS = 25


async def retry_on_concurrent_create(record: Callable[[], Awaitable[T]]) -> T:
    """Run an event's transaction until it commits, rerunning it from fresh state after losing a race:
    a concurrent first event may insert the same row first (unique violation: the rerun is an update), and on
    SQLite, which has no row locks, a concurrent writer may bump the row's version first (ABORTED). The producer
    never sees those races, so a burst cannot lose an event (a terminal one, say). A duplicate is an answer."""
    lost_insert = False
    for attempt in range(MAX_EVENT_TRANSACTIONS):
        try:
            return await record()
        except DuplicateEvent:
            raise
        except AlreadyExists:
            if lost_insert:
                raise
            lost_insert = True
        except Aborted:
            if attempt == MAX_EVENT_TRANSACTIONS - 1:
                raise
            await asyncio.sleep(random.uniform(0, 0.001 * 2 ** min(attempt, 7)))  # jitter spreads the rerun
    raise Aborted("the event kept losing concurrent updates, retry")
