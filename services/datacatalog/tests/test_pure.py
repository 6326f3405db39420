"""Transformers and validators are pure: tested on their own, without a server or a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flyteidl.datacatalog import datacatalog_pb2 as dc

from aloft_datacatalog.repositories.keys import ArtifactFilter, DatasetFilter, DatasetKey, Page
from aloft_datacatalog.repositories.models import ReservationRow
from aloft_datacatalog.transformers.datasets import dataset_key, new_dataset_row, to_dataset
from aloft_datacatalog.transformers.reservations import reservation_key, to_reservation
from aloft_datacatalog.validation.artifacts import validate_partitions
from aloft_datacatalog.validation.listing import artifact_filter, dataset_filter, page
from aloft_service.errors import InvalidArgument

DATASET_ID = dc.DatasetID(project="p", domain="d", name="n", version="v", org="o")


def test_dataset_row_round_trip() -> None:
    now = datetime(2026, 1, 2, tzinfo=UTC)
    dataset = dc.Dataset(id=DATASET_ID, metadata=dc.Metadata(key_map={"a": "b"}), partitionKeys=["x", "y"])
    row = new_dataset_row(dataset, now)
    back = to_dataset(row)
    assert row.uuid == back.id.UUID and len(row.uuid) == 36
    back.id.ClearField("UUID")
    assert back == dataset
    assert dataset_key(DATASET_ID) == DatasetKey("p", "n", "d", "v", "o")
    assert str(dataset_key(DATASET_ID)) == "o/p/d/n/v"


def test_reservation_transform_treats_sqlite_naive_datetimes_as_utc() -> None:
    expires = datetime(2026, 1, 2, 3, 4, 5)  # SQLite hands datetimes back without a zone
    row = ReservationRow(
        project="p", name="n", domain="d", version="v", org="o", tag_name="t", owner_id="me",
        expires_at=expires, serialized_metadata=b"",
    )  # fmt: skip
    reservation = to_reservation(row, timedelta(seconds=2))
    assert reservation.expires_at.ToDatetime(tzinfo=UTC) == expires.replace(tzinfo=UTC)
    assert reservation.heartbeat_interval.ToTimedelta() == timedelta(seconds=2)
    assert reservation_key(reservation.reservation_id) == reservation_key(
        dc.ReservationID(dataset_id=DATASET_ID, tag_name="t")
    )


def test_filters_become_typed_queries() -> None:
    filters = [
        dc.SinglePropertyFilter(
            partition_filter=dc.PartitionPropertyFilter(key_val=dc.KeyValuePair(key="region", value="eu"))
        ),
        dc.SinglePropertyFilter(tag_filter=dc.TagPropertyFilter(tag_name="t")),
        dc.SinglePropertyFilter(artifact_filter=dc.ArtifactPropertyFilter(artifact_id="a")),
    ]
    assert artifact_filter(filters) == ArtifactFilter(
        partitions=(("region", "eu"),), tag_names=("t",), artifact_ids=("a",)
    )
    by_project = [dc.SinglePropertyFilter(dataset_filter=dc.DatasetPropertyFilter(project="p"))]
    assert dataset_filter(by_project) == DatasetFilter(equals={"project": "p"})
    conflicting = [*by_project, dc.SinglePropertyFilter(dataset_filter=dc.DatasetPropertyFilter(project="q"))]
    with pytest.raises(InvalidArgument, match="conflicting values for dataset project"):
        dataset_filter(conflicting)


def test_pagination_defaults_and_tokens() -> None:
    assert page(dc.ListArtifactsRequest(), 50) == Page(limit=50)
    options = dc.PaginationOptions(limit=3, token=" 6 ", sortOrder=dc.PaginationOptions.ASCENDING)
    assert page(dc.ListArtifactsRequest(pagination=options), 50) == Page(limit=3, offset=6, ascending=True)
    for token in ["x", "-1", "1.5", str(2**32)]:
        with pytest.raises(InvalidArgument, match=r"pagination\.token"):
            page(dc.ListArtifactsRequest(pagination=dc.PaginationOptions(token=token)), 50)


def test_partitions_must_cover_exactly_the_dataset_keys() -> None:
    validate_partitions(["a", "b"], [dc.Partition(key="b", value="1"), dc.Partition(key="a", value="2")])
    validate_partitions([], [])
    for given in ([dc.Partition(key="a", value="1")], [dc.Partition(key="c", value="1"), dc.Partition(key="a")]):
        with pytest.raises(InvalidArgument, match="partition keys"):
            validate_partitions(["a", "b"], given)
