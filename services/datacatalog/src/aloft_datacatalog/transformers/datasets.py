"""Pure conversions between datacatalog Dataset protos and dataset rows."""

from __future__ import annotations

import uuid
from datetime import datetime

from flyteidl.datacatalog import datacatalog_pb2 as dc

from aloft_datacatalog.repositories.keys import DatasetKey
from aloft_datacatalog.repositories.models import DatasetRow, PartitionKeyRow


def dataset_key(dataset_id: dc.DatasetID) -> DatasetKey:
    return DatasetKey(
        project=dataset_id.project,
        name=dataset_id.name,
        domain=dataset_id.domain,
        version=dataset_id.version,
        org=dataset_id.org,
    )


def new_dataset_row(dataset: dc.Dataset, now: datetime) -> DatasetRow:
    key = dataset_key(dataset.id)
    return DatasetRow(
        uuid=str(uuid.uuid4()),
        project=key.project,
        name=key.name,
        domain=key.domain,
        version=key.version,
        org=key.org,
        serialized_metadata=dataset.metadata.SerializeToString(),
        created_at=now,
        partition_keys=[PartitionKeyRow(name=name, position=i) for i, name in enumerate(dataset.partitionKeys)],
    )


def to_dataset_id(row: DatasetRow) -> dc.DatasetID:
    return dc.DatasetID(
        project=row.project, name=row.name, domain=row.domain, version=row.version, org=row.org, UUID=row.uuid
    )


def to_metadata(serialized: bytes) -> dc.Metadata:
    metadata = dc.Metadata()
    metadata.ParseFromString(serialized)
    return metadata


def to_dataset(row: DatasetRow) -> dc.Dataset:
    return dc.Dataset(
        id=to_dataset_id(row),
        metadata=to_metadata(row.serialized_metadata),
        partitionKeys=[key.name for key in row.partition_keys],
    )
