"""GetOrExtendReservation / ReleaseReservation over real gRPC on SQLite and PostgreSQL, including a 20-client race."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import grpc
import pytest
from flyteidl.datacatalog import datacatalog_pb2 as dc
from flyteidl.datacatalog import datacatalog_pb2_grpc
from google.protobuf.duration_pb2 import Duration


def _reservation_id(make: Any, tag: str = "inputs-hash") -> dc.ReservationID:
    return dc.ReservationID(dataset_id=make.dataset_id(), tag_name=tag)


def _request(make: Any, owner: str, seconds: float = 1.0) -> dc.GetOrExtendReservationRequest:
    interval = Duration()
    interval.FromTimedelta(timedelta(seconds=seconds))
    return dc.GetOrExtendReservationRequest(
        reservation_id=_reservation_id(make), owner_id=owner, heartbeat_interval=interval
    )


def _expires(reservation: dc.Reservation) -> datetime:
    return reservation.expires_at.ToDatetime()


async def test_grant_extend_and_report_holder(stub: Any, make: Any) -> None:
    before = datetime.utcnow()
    first = (await stub.GetOrExtendReservation(_request(make, "owner-a", 1.0))).reservation
    after = datetime.utcnow()
    assert first.owner_id == "owner-a" and first.reservation_id.tag_name == "inputs-hash"
    assert first.heartbeat_interval.ToTimedelta() == timedelta(seconds=1)
    # expires_at = grant time + 3 (heartbeat-grace-period-multiplier) x heartbeat interval
    assert before + timedelta(seconds=3) <= _expires(first) <= after + timedelta(seconds=3)

    other = (await stub.GetOrExtendReservation(_request(make, "owner-b", 1.0))).reservation
    assert other.owner_id == "owner-a"
    assert _expires(other) == _expires(first)  # asking does not extend someone else's reservation

    extended = (await stub.GetOrExtendReservation(_request(make, "owner-a", 1.0))).reservation
    assert extended.owner_id == "owner-a" and _expires(extended) >= _expires(first)


async def test_heartbeat_interval_is_capped_by_config(stub: Any, make: Any) -> None:
    capped = (await stub.GetOrExtendReservation(_request(make, "owner-a", 3600))).reservation
    assert capped.heartbeat_interval.ToTimedelta() == timedelta(seconds=10)  # max-reservation-heartbeat default
    unset = dc.GetOrExtendReservationRequest(reservation_id=_reservation_id(make, "other"), owner_id="owner-a")
    assert (await stub.GetOrExtendReservation(unset)).reservation.heartbeat_interval.ToTimedelta() == timedelta(
        seconds=10
    )


async def test_release_only_by_the_holder(stub: Any, make: Any) -> None:
    await stub.GetOrExtendReservation(_request(make, "owner-a"))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ReleaseReservation(
            dc.ReleaseReservationRequest(reservation_id=_reservation_id(make), owner_id="owner-b")
        )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "'owner-a'" in (err.value.details() or "") and "'owner-b'" in (err.value.details() or "")
    assert (await stub.GetOrExtendReservation(_request(make, "owner-b"))).reservation.owner_id == "owner-a"

    await stub.ReleaseReservation(
        dc.ReleaseReservationRequest(reservation_id=_reservation_id(make), owner_id="owner-a")
    )
    assert (await stub.GetOrExtendReservation(_request(make, "owner-b"))).reservation.owner_id == "owner-b"
    # Releasing a reservation that is not there is a no-op (as in Flyte), so retries are safe.
    await stub.ReleaseReservation(dc.ReleaseReservationRequest(reservation_id=_reservation_id(make, "x"), owner_id="a"))


@pytest.mark.parametrize(
    ("request_", "field_"),
    [
        (dc.GetOrExtendReservationRequest(owner_id="a"), "reservation_id"),
        (dc.GetOrExtendReservationRequest(reservation_id=dc.ReservationID(tag_name="t"), owner_id="a"), "dataset_id"),
        (
            dc.GetOrExtendReservationRequest(
                reservation_id=dc.ReservationID(
                    dataset_id=dc.DatasetID(project="p", domain="d", name="n", version="v")
                ),
                owner_id="a",
            ),
            "reservation_id.tag_name",
        ),
        (
            dc.GetOrExtendReservationRequest(
                reservation_id=dc.ReservationID(
                    dataset_id=dc.DatasetID(project="p", domain="d", name="n", version="v"), tag_name="t"
                )
            ),
            "owner_id",
        ),
    ],
)
async def test_bad_reservation_requests(stub: Any, request_: Any, field_: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetOrExtendReservation(request_)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_ in (err.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ReleaseReservation(
            dc.ReleaseReservationRequest(reservation_id=request_.reservation_id, owner_id=request_.owner_id)
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@dataclass
class Holdings:
    """Per owner: the earliest grant and latest expiry the server reported to that owner while it held the key."""

    start: dict[str, datetime] = field(default_factory=dict)
    end: dict[str, datetime] = field(default_factory=dict)

    def record(self, owner: str, reservation: dc.Reservation, grace: timedelta) -> None:
        expires = _expires(reservation)
        granted = expires - grace
        self.start[owner] = min(self.start.get(owner, granted), granted)
        self.end[owner] = max(self.end.get(owner, expires), expires)

    def assert_disjoint(self) -> None:
        spans = sorted((self.start[o], self.end[o], o) for o in self.start)
        for (_, end, owner), (start, _, next_owner) in itertools.pairwise(spans):
            assert start >= end, f"{next_owner} was granted at {start} while {owner} held the key until {end}"


async def test_twenty_clients_race_and_takeover_after_grace_period(start_catalog: Any, make: Any) -> None:
    """20 clients, spread over two service replicas sharing one database, race for one key.

    Every answer a client gets while it holds the key is recorded as a span [grant, expires_at]; spans of different
    owners must never overlap, whatever the scheduling. Only correctness is asserted, never speed: on a slow machine
    a holder may legitimately lose the key between heartbeats, and the invariant still holds."""
    multiplier, heartbeat = 3, timedelta(seconds=0.5)
    grace = heartbeat * multiplier
    # Two replicas of the service on one database, as when datacatalog is scaled out; clients alternate between them.
    replicas = [await start_catalog(**{"heartbeat-grace-period-multiplier": multiplier}) for _ in range(2)]
    channels = [grpc.aio.insecure_channel(replicas[i % 2].target) for i in range(20)]
    stubs = [datacatalog_pb2_grpc.DataCatalogStub(c) for c in channels]
    owners = [f"owner-{i}" for i in range(20)]
    holdings = Holdings()

    async def ask(i: int) -> dc.Reservation:
        reply = await stubs[i].GetOrExtendReservation(_request(make, owners[i], heartbeat.total_seconds()))
        reservation: dc.Reservation = reply.reservation
        assert reservation.owner_id in owners
        if reservation.owner_id == owners[i]:
            holdings.record(owners[i], reservation, grace)
        return reservation

    granted: dict[str, datetime] = {}  # latest grant each owner received

    async def round_of(clients: list[int]) -> list[str]:
        """One concurrent request per client; returns the clients told that they hold the key."""
        answers = await asyncio.gather(*(ask(i) for i in clients))
        winners = [(owners[i], a) for i, a in zip(clients, answers, strict=True) if a.owner_id == owners[i]]
        granted.update((owner, _expires(a) - grace) for owner, a in winners)
        return [owner for owner, _ in winners]

    try:
        everyone = list(range(20))
        winners = await round_of(everyone)  # 20 clients race for a fresh key
        assert len(winners) == 1, winners
        holder = winners[0]
        for _ in range(4):  # the holder heartbeats while everyone else keeps asking
            await asyncio.sleep(heartbeat.total_seconds() / 2)
            winners = await round_of(everyone)
            assert len(winners) <= 1, winners
            holder = winners[0] if winners else holder
        holdings.assert_disjoint()

        # The holder stops heartbeating (a crash); the others keep asking until one of them takes over.
        rest = [i for i in everyone if owners[i] != holder]
        successor = None
        for _ in range(100):
            await asyncio.sleep(heartbeat.total_seconds() / 2)
            winners = await round_of(rest)
            assert len(winners) <= 1, winners
            if winners:
                successor = winners[0]
                break
        assert successor is not None and successor != holder
        successor_granted = granted[successor]
        await round_of(rest)
        holdings.assert_disjoint()
        assert successor_granted >= holdings.end[holder]  # only after the holder's grace period ran out
    finally:
        for channel in channels:
            await channel.close()
