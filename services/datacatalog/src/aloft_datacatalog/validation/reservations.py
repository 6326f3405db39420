"""Validators for reservation requests."""

from __future__ import annotations

from flyteidl.datacatalog import datacatalog_pb2 as dc

from aloft_datacatalog.validation.common import require_dataset_id, require_message, require_string
from aloft_service.errors import InvalidArgument


def _validate_reservation_id(request: dc.GetOrExtendReservationRequest | dc.ReleaseReservationRequest) -> None:
    require_message(request, "reservation_id", "reservation_id")
    require_dataset_id(request.reservation_id, "dataset_id", "reservation_id.dataset_id")
    require_string(request.reservation_id.tag_name, "reservation_id.tag_name")
    require_string(request.owner_id, "owner_id")


def validate_get_or_extend(request: dc.GetOrExtendReservationRequest) -> None:
    _validate_reservation_id(request)
    interval = request.heartbeat_interval
    if interval.seconds < 0 or interval.nanos < 0:
        raise InvalidArgument("heartbeat_interval must not be negative")


def validate_release(request: dc.ReleaseReservationRequest) -> None:
    _validate_reservation_id(request)
