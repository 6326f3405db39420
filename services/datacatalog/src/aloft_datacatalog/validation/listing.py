"""Validators for List requests: turn FilterExpression and PaginationOptions into typed repository queries."""

from __future__ import annotations

from collections.abc import Sequence

from flyteidl.datacatalog import datacatalog_pb2 as dc

from aloft_datacatalog.repositories.keys import ArtifactFilter, DatasetFilter, Page
from aloft_datacatalog.validation.common import require_dataset_id
from aloft_service.errors import InvalidArgument

_DATASET_COLUMNS = ("project", "name", "domain", "version", "org")


def _check_operator(index: int, single: dc.SinglePropertyFilter) -> str:
    if single.operator != dc.SinglePropertyFilter.EQUALS:
        raise InvalidArgument(f"filter.filters[{index}].operator: only EQUALS is supported")
    kind = single.WhichOneof("property_filter")
    if kind is None:
        raise InvalidArgument(f"filter.filters[{index}]: no property filter set")
    return kind


def _dataset_property(index: int, prop: dc.DatasetPropertyFilter) -> tuple[str, str]:
    column = prop.WhichOneof("property")
    if column is None or column not in _DATASET_COLUMNS:
        raise InvalidArgument(f"filter.filters[{index}].dataset_filter: no property set")
    return column, getattr(prop, column)


def dataset_filter(filters: Sequence[dc.SinglePropertyFilter]) -> DatasetFilter:
    equals: dict[str, str] = {}
    for index, single in enumerate(filters):
        kind = _check_operator(index, single)
        if kind != "dataset_filter":
            raise InvalidArgument(f"filter.filters[{index}]: cannot filter datasets by {kind}")
        column, value = _dataset_property(index, single.dataset_filter)
        if equals.get(column, value) != value:
            raise InvalidArgument(f"filter.filters[{index}]: conflicting values for dataset {column}")
        equals[column] = value
    return DatasetFilter(equals=equals)


def artifact_filter(filters: Sequence[dc.SinglePropertyFilter]) -> ArtifactFilter:
    partitions: list[tuple[str, str]] = []
    tags: list[str] = []
    ids: list[str] = []
    for index, single in enumerate(filters):
        kind = _check_operator(index, single)
        if kind == "partition_filter":
            if single.partition_filter.WhichOneof("property") != "key_val" or not single.partition_filter.key_val.key:
                raise InvalidArgument(f"filter.filters[{index}].partition_filter: missing key_val.key")
            pair = single.partition_filter.key_val
            partitions.append((pair.key, pair.value))
        elif kind == "tag_filter":
            if single.tag_filter.WhichOneof("property") != "tag_name":
                raise InvalidArgument(f"filter.filters[{index}].tag_filter: missing tag_name")
            tags.append(single.tag_filter.tag_name)
        elif kind == "artifact_filter":
            if single.artifact_filter.WhichOneof("property") != "artifact_id":
                raise InvalidArgument(f"filter.filters[{index}].artifact_filter: missing artifact_id")
            ids.append(single.artifact_filter.artifact_id)
        else:
            raise InvalidArgument(
                f"filter.filters[{index}]: cannot filter artifacts by {kind} (artifacts are listed within one dataset)"
            )
    return ArtifactFilter(partitions=tuple(partitions), tag_names=tuple(tags), artifact_ids=tuple(ids))


def page(request: dc.ListArtifactsRequest | dc.ListDatasetsRequest, default_limit: int) -> Page:
    if not request.HasField("pagination"):
        return Page(limit=default_limit)
    options = request.pagination
    token = options.token.strip()
    if token and not (token.isdigit() and int(token) < 2**32):
        raise InvalidArgument(f"pagination.token: invalid token {options.token!r}")
    if options.sortKey != dc.PaginationOptions.CREATION_TIME:
        raise InvalidArgument(f"pagination.sortKey: invalid sort key {options.sortKey}")
    if options.sortOrder not in (dc.PaginationOptions.ASCENDING, dc.PaginationOptions.DESCENDING):
        raise InvalidArgument(f"pagination.sortOrder: invalid sort order {options.sortOrder}")
    return Page(
        limit=options.limit or default_limit,
        offset=int(token) if token else 0,
        ascending=options.sortOrder == dc.PaginationOptions.ASCENDING,
    )


def validate_list_artifacts(request: dc.ListArtifactsRequest, default_limit: int) -> tuple[ArtifactFilter, Page]:
    require_dataset_id(request, "dataset", "dataset")
    return artifact_filter(request.filter.filters), page(request, default_limit)


def validate_list_datasets(request: dc.ListDatasetsRequest, default_limit: int) -> tuple[DatasetFilter, Page]:
    return dataset_filter(request.filter.filters), page(request, default_limit)
