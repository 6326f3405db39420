"""What the three event managers share: verdict → error mapping, cluster check, offloading, time arithmetic."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.core import literals_pb2
from google.protobuf import timestamp_pb2

from aloft_admin.deps import AdminDeps
from aloft_admin.transformers.timestamps import aware, from_timestamp
from aloft_admin.transitions import Decision, Verdict
from aloft_service.errors import AlreadyExists, FailedPrecondition, InvalidArgument

T = TypeVar("T")

# Events from a producer that never said which cluster it is are accepted anywhere (Flyte's default producer id).
DEFAULT_PRODUCER_ID = "propeller"


def raise_if_refused(verdict: Verdict, current_phase: str, what: str) -> None:
    """FAILED_PRECONDITION with Flyte's ``EventFailureReason`` details for terminal refusals."""
    if verdict.decision is Decision.REJECT_TERMINAL:
        details = admin_event_pb2.EventFailureReason(
            already_in_terminal_state=admin_event_pb2.EventErrorAlreadyInTerminalState(current_phase=current_phase)
        )
        raise FailedPrecondition(f"{what}: {verdict.reason}", details=details)
    if verdict.decision is Decision.REJECT_INVALID:
        raise FailedPrecondition(f"{what}: {verdict.reason}")


def check_cluster(recorded_cluster: str, producer_id: str, what: str) -> None:
    """An execution handed to one cluster accepts events only from that cluster."""
    if not recorded_cluster or recorded_cluster == DEFAULT_PRODUCER_ID:
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


async def retry_on_concurrent_create(record: Callable[[], Awaitable[T]]) -> T:
    """Run an event's transaction; if a concurrent first event inserted the same row first (unique violation),
    run it once more, now as an update of that row. Events never answer ALREADY_EXISTS for that race."""
    try:
        return await record()
    except AlreadyExists:
        return await record()
