"""Validators for artifact and tag requests."""

from __future__ import annotations

from collections.abc import Sequence

from flyteidl.datacatalog import datacatalog_pb2 as dc

from aloft_datacatalog.validation.common import (
    check_length,
    require_dataset_id,
    require_message,
    require_string,
    require_unique,
    validate_dataset_id,
)
from aloft_service.errors import InvalidArgument


def _validate_data(data: Sequence[dc.ArtifactData], path: str) -> None:
    if not data:
        raise InvalidArgument(f"missing {path}: an artifact needs at least one data entry")
    require_unique([d.name for d in data], f"{path}.name")


def _validate_query_handle(request: dc.GetArtifactRequest | dc.UpdateArtifactRequest) -> None:
    handle = request.WhichOneof("query_handle")
    if handle is None:
        raise InvalidArgument("missing one of artifact_id / tag_name")
    if handle == "artifact_id":
        require_string(request.artifact_id, "artifact_id")
    else:
        require_string(request.tag_name, "tag_name")
    # Both handles resolve inside one dataset, so the dataset id is required either way.
    require_dataset_id(request, "dataset", "dataset")


def validate_create_artifact(request: dc.CreateArtifactRequest) -> None:
    require_message(request, "artifact", "artifact")
    artifact = request.artifact
    require_dataset_id(artifact, "dataset", "artifact.dataset")
    require_string(artifact.id, "artifact.id")
    _validate_data(artifact.data, "artifact.data")
    require_unique([p.key for p in artifact.partitions], "artifact.partitions.key")
    for partition in artifact.partitions:
        check_length(partition.value, "artifact.partitions.value")


def validate_partitions(dataset_keys: list[str], partitions: Sequence[dc.Partition]) -> None:
    """An artifact assigns a value to exactly the partition keys its dataset declares."""
    given = sorted(p.key for p in partitions)
    if given != sorted(dataset_keys):
        raise InvalidArgument(
            f"artifact partitions {given} do not match the dataset's partition keys {sorted(dataset_keys)}"
        )


def validate_get_artifact(request: dc.GetArtifactRequest) -> None:
    _validate_query_handle(request)


def validate_update_artifact(request: dc.UpdateArtifactRequest) -> None:
    _validate_query_handle(request)
    _validate_data(request.data, "data")


def validate_add_tag(request: dc.AddTagRequest) -> None:
    require_message(request, "tag", "tag")
    tag = request.tag
    require_string(tag.name, "tag.name")
    require_string(tag.artifact_id, "tag.artifact_id")
    require_message(tag, "dataset", "tag.dataset")
    validate_dataset_id(tag.dataset, "tag.dataset")
