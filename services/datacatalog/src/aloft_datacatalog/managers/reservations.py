"""Reservations for cache serialization: one owner per (dataset, tag) at a time.

- GetOrExtendReservation grants a free or expired reservation, extends the caller's own, and otherwise returns the
  current holder unchanged (callers compare ``owner_id`` with their own to know whether they hold it).
- The heartbeat interval is the requested one capped at ``max-reservation-heartbeat`` (unset or zero means the cap);
  a reservation expires ``heartbeat-grace-period-multiplier`` intervals after its last grant or extension.
- ReleaseReservation by the holder deletes it; releasing a reservation that does not exist succeeds (idempotent,
  as in Flyte); releasing one held by someone else fails with FAILED_PRECONDITION naming the holder.
"""

from __future__ import annotations

from datetime import timedelta

from flyteidl.datacatalog import datacatalog_pb2 as dc
from prometheus_client import Counter

from aloft_datacatalog.managers.base import Clock, utc_now
from aloft_datacatalog.repositories.base import RepositoryProvider
from aloft_datacatalog.transformers.reservations import reservation_key, to_reservation
from aloft_datacatalog.validation.reservations import validate_get_or_extend, validate_release
from aloft_service.errors import FailedPrecondition

RESERVATIONS = Counter(
    "aloft_datacatalog_reservation_requests_total",
    "GetOrExtendReservation/ReleaseReservation outcomes",
    ["outcome"],
)


class ReservationManager:
    def __init__(
        self,
        repos: RepositoryProvider,
        max_heartbeat: timedelta,
        grace_multiplier: int,
        clock: Clock = utc_now,
    ) -> None:
        self._repos = repos
        self._max_heartbeat = max_heartbeat
        self._grace_multiplier = grace_multiplier
        self._clock = clock

    def heartbeat_interval(self, request: dc.GetOrExtendReservationRequest) -> timedelta:
        requested = request.heartbeat_interval.ToTimedelta()
        if requested <= timedelta(0):
            return self._max_heartbeat
        return min(requested, self._max_heartbeat)

    async def get_or_extend(self, request: dc.GetOrExtendReservationRequest) -> dc.GetOrExtendReservationResponse:
        validate_get_or_extend(request)
        interval = self.heartbeat_interval(request)
        now = self._clock()
        key = reservation_key(request.reservation_id)
        async with self._repos.transaction() as repos:
            row = await repos.reservations.acquire(key, request.owner_id, now + interval * self._grace_multiplier, now)
            reservation = to_reservation(row, interval)
        RESERVATIONS.labels("held" if reservation.owner_id == request.owner_id else "held_by_other").inc()
        return dc.GetOrExtendReservationResponse(reservation=reservation)

    async def release(self, request: dc.ReleaseReservationRequest) -> dc.ReleaseReservationResponse:
        validate_release(request)
        key = reservation_key(request.reservation_id)
        async with self._repos.transaction() as repos:
            if not await repos.reservations.delete(key, request.owner_id):
                holder = await repos.reservations.get(key)
                if holder is not None:
                    RESERVATIONS.labels("release_refused").inc()
                    raise FailedPrecondition(
                        f"reservation {key.dataset}/{key.tag_name} is held by {holder.owner_id!r}, "
                        f"not {request.owner_id!r}; only the holder can release it"
                    )
        RESERVATIONS.labels("released").inc()
        return dc.ReleaseReservationResponse()
