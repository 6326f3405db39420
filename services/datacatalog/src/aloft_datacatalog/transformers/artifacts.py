"""Pure conversions between datacatalog Artifact protos and artifact rows (data values come from the blob store)."""

from __future__ import annotations

from datetime import datetime

from flyteidl.datacatalog import datacatalog_pb2 as dc

from aloft_datacatalog.repositories.models import ArtifactDataRow, ArtifactRow, DatasetRow, PartitionRow
from aloft_datacatalog.transformers.datasets import to_dataset_id, to_metadata
from aloft_datacatalog.transformers.timestamps import to_timestamp


def data_rows(names: list[str], locations: list[str]) -> list[ArtifactDataRow]:
    return [
        ArtifactDataRow(name=name, position=i, location=location)
        for i, (name, location) in enumerate(zip(names, locations, strict=True))
    ]


def new_artifact_row(
    artifact: dc.Artifact, dataset: DatasetRow, data: list[ArtifactDataRow], now: datetime
) -> ArtifactRow:
    return ArtifactRow(
        dataset_id=dataset.id,
        artifact_id=artifact.id,
        serialized_metadata=artifact.metadata.SerializeToString(),
        created_at=now,
        updated_at=now,
        data=data,
        partitions=[PartitionRow(key=p.key, value=p.value) for p in artifact.partitions],
    )


def to_artifact(row: ArtifactRow, data: list[dc.ArtifactData]) -> dc.Artifact:
    dataset_id = to_dataset_id(row.dataset)
    return dc.Artifact(
        id=row.artifact_id,
        dataset=dataset_id,
        data=data,
        metadata=to_metadata(row.serialized_metadata),
        partitions=[dc.Partition(key=p.key, value=p.value) for p in row.partitions],
        tags=[dc.Tag(name=t.tag_name, artifact_id=row.artifact_id, dataset=dataset_id) for t in row.tags],
        created_at=to_timestamp(row.created_at),
    )
