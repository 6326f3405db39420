"""What the three event managers share: verdict → error mapping, cluster check, offloading, time arithmetic."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol, TypeVar

from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from google.protobuf import timestamp_pb2
from sqlalchemy.ext.asyncio import AsyncSession

from aloft_admin.deps import AdminDeps
from aloft_admin.repositories.sql.executions import find_execution_cluster
from aloft_admin.transformers.timestamps import aware, from_timestamp
from aloft_admin.transitions import Decision, Verdict
from aloft_admin.validation.execution_identifiers import describe_execution
from aloft_service.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
)

T = TypeVar("T")

# Events from a producer that never said which cluster it is are accepted anywhere (Flyte's default producer id).
DEFAULT_PRODUCER_ID = "propeller"


class HasOutputResult(Protocol):
    """Workflow, node and task events: the ``output_result`` oneof."""

    @property
    def output_data(self) -> literals_pb2.LiteralMap: ...

    def WhichOneof(self, oneof_group: str) -> str | None: ...


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


def check_output_size(deps: AdminDeps, event: HasOutputResult) -> None:
    """Inline outputs above ``remoteData.maxSizeInBytes`` are refused before anything is stored (flyteadmin's
    ValidateOutputData): the producer must offload them and send ``output_uri``."""
    if event.WhichOneof("output_result") != "output_data":
        return
    size, limit = event.output_data.ByteSize(), deps.config.remoteData.maxSizeInBytes
    if size > limit:
        raise ResourceExhausted(f"Output data size exceeds platform configured threshold ({size} > {limit})")


_CLUSTERS_SEEN = "aloft_execution_clusters"


async def check_event_cluster(
    session: AsyncSession, wid: identifier_pb2.WorkflowExecutionIdentifier, producer_id: str, what: str
) -> None:
    """The cluster check of node and task events (workflow events read the row anyway); NOT_FOUND when the
    execution does not exist. Runs before any duplicate check, as in flyteadmin."""
    # A batch checks many events of one execution in one transaction: read its cluster once per transaction.
    known: dict[tuple[str, str, str, str], str | None] = session.info.setdefault(_CLUSTERS_SEEN, {})
    key = (wid.org, wid.project, wid.domain, wid.name)
    if key not in known:
        known[key] = await find_execution_cluster(session, wid)
    cluster = known[key]
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


async def offload_literal_map(deps: AdminDeps, literal_map: literals_pb2.LiteralMap, *parts: str) -> str:
    """Write a literal map under the metadata prefix and return its URI (rows and closures keep only URIs)."""
    uri = deps.blobs.uri(deps.config.admin.metadataPrefix, *parts)
    await deps.blobs.write_proto(uri, literal_map)
    return uri


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
