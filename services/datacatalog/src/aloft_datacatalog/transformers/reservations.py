"""Pure conversions for reservations."""

from __future__ import annotations

from datetime import timedelta

from flyteidl.datacatalog import datacatalog_pb2 as dc

from aloft_datacatalog.repositories.keys import ReservationKey
from aloft_datacatalog.repositories.models import ReservationRow
from aloft_datacatalog.transformers.datasets import dataset_key, to_metadata
from aloft_datacatalog.transformers.timestamps import to_duration, to_timestamp


def reservation_key(reservation_id: dc.ReservationID) -> ReservationKey:
    return ReservationKey(dataset=dataset_key(reservation_id.dataset_id), tag_name=reservation_id.tag_name)


def to_reservation(row: ReservationRow, heartbeat_interval: timedelta) -> dc.Reservation:
    return dc.Reservation(
        reservation_id=dc.ReservationID(
            dataset_id=dc.DatasetID(
                project=row.project, name=row.name, domain=row.domain, version=row.version, org=row.org
            ),
            tag_name=row.tag_name,
        ),
        owner_id=row.owner_id,
        heartbeat_interval=to_duration(heartbeat_interval),
        expires_at=to_timestamp(row.expires_at),
        metadata=to_metadata(row.serialized_metadata),
    )
