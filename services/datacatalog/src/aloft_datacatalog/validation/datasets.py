"""Validators for dataset requests."""

from __future__ import annotations

from flyteidl.datacatalog import datacatalog_pb2 as dc

from aloft_datacatalog.validation.common import require_dataset_id, require_message, require_unique


def validate_create_dataset(request: dc.CreateDatasetRequest) -> None:
    require_message(request, "dataset", "dataset")
    require_dataset_id(request.dataset, "id", "dataset.id")
    require_unique(list(request.dataset.partitionKeys), "dataset.partitionKeys")


def validate_get_dataset(request: dc.GetDatasetRequest) -> None:
    require_dataset_id(request, "dataset", "dataset")
