"""CreateDataset, GetDataset, ListDatasets over real gRPC on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from flyteidl.datacatalog import datacatalog_pb2 as dc


def _filter(**props: str) -> dc.FilterExpression:
    return dc.FilterExpression(
        filters=[dc.SinglePropertyFilter(dataset_filter=dc.DatasetPropertyFilter(**{k: v})) for k, v in props.items()]
    )


async def test_create_then_get_round_trips(stub: Any, make: Any) -> None:
    dataset = dc.Dataset(
        id=make.dataset_id(), metadata=dc.Metadata(key_map={"task": "wf.t1"}), partitionKeys=["region", "day"]
    )
    await stub.CreateDataset(dc.CreateDatasetRequest(dataset=dataset))

    got = (await stub.GetDataset(dc.GetDatasetRequest(dataset=make.dataset_id()))).dataset
    assert got.id.project == "flytesnacks" and got.id.name == "flyte_task-wf.t1" and got.id.version == "1.0-abc"
    assert got.id.UUID  # assigned by the server
    assert dict(got.metadata.key_map) == {"task": "wf.t1"}
    assert list(got.partitionKeys) == ["region", "day"]


async def test_duplicate_dataset_is_already_exists(stub: Any, make: Any) -> None:
    request = dc.CreateDatasetRequest(dataset=dc.Dataset(id=make.dataset_id()))
    await stub.CreateDataset(request)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.CreateDataset(request)
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "flytesnacks/development/flyte_task-wf.t1/1.0-abc" in (err.value.details() or "")


async def test_unknown_dataset_is_not_found(stub: Any, make: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetDataset(dc.GetDatasetRequest(dataset=make.dataset_id(name="nope")))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert "nope" in (err.value.details() or "")


@pytest.mark.parametrize(
    ("dataset", "field"),
    [
        (dc.Dataset(), "dataset.id"),
        (dc.Dataset(id=dc.DatasetID(project="p", domain="d", name="n")), "dataset.id.version"),
        (dc.Dataset(id=dc.DatasetID(project="p", domain="d", version="v")), "dataset.id.name"),
        (dc.Dataset(id=dc.DatasetID(project="p", domain="d", name="n" * 256, version="v")), "longer than 255"),
        (
            dc.Dataset(id=dc.DatasetID(project="p", name="n", version="v", domain="d"), partitionKeys=["a", "a"]),
            "dataset.partitionKeys",
        ),
    ],
)
async def test_create_rejects_missing_fields(stub: Any, dataset: dc.Dataset, field: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.CreateDataset(dc.CreateDatasetRequest(dataset=dataset))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (err.value.details() or "")
    listed = await stub.ListDatasets(dc.ListDatasetsRequest())
    assert list(listed.datasets) == []


async def test_list_filters_by_dataset_properties_and_paginates(stub: Any, make: Any) -> None:
    for name in ["a", "b", "c"]:
        for version in ["v1", "v2"]:
            ds = make.dataset_id(name=name, version=version)
            await stub.CreateDataset(dc.CreateDatasetRequest(dataset=dc.Dataset(id=ds)))
    await stub.CreateDataset(
        dc.CreateDatasetRequest(dataset=dc.Dataset(id=make.dataset_id(name="a", version="v1", project="other")))
    )

    by_name = await stub.ListDatasets(dc.ListDatasetsRequest(filter=_filter(project="flytesnacks", name="a")))
    assert sorted(d.id.version for d in by_name.datasets) == ["v1", "v2"]
    by_version = await stub.ListDatasets(dc.ListDatasetsRequest(filter=_filter(version="v1")))
    assert sorted((d.id.project, d.id.name) for d in by_version.datasets) == [
        ("flytesnacks", "a"),
        ("flytesnacks", "b"),
        ("flytesnacks", "c"),
        ("other", "a"),
    ]

    seen: list[tuple[str, str]] = []
    token = ""
    while True:
        page = await stub.ListDatasets(
            dc.ListDatasetsRequest(
                filter=_filter(project="flytesnacks"),
                pagination=dc.PaginationOptions(limit=4, token=token, sortOrder=dc.PaginationOptions.ASCENDING),
            )
        )
        seen += [(d.id.name, d.id.version) for d in page.datasets]
        token = page.next_token
        if not token:
            break
    assert seen == [(n, v) for n in ["a", "b", "c"] for v in ["v1", "v2"]]  # creation order, no repeats


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            dc.ListDatasetsRequest(
                filter=dc.FilterExpression(
                    filters=[dc.SinglePropertyFilter(tag_filter=dc.TagPropertyFilter(tag_name="x"))]
                )
            ),
            "cannot filter datasets by tag_filter",
        ),
        (
            dc.ListDatasetsRequest(filter=dc.FilterExpression(filters=[dc.SinglePropertyFilter()])),
            "no property filter set",
        ),
        (dc.ListDatasetsRequest(pagination=dc.PaginationOptions(token="abc")), "invalid token"),
        (dc.ListDatasetsRequest(pagination=dc.PaginationOptions(sortOrder=7)), "invalid sort order"),  # type: ignore[arg-type]
    ],
)
async def test_list_rejects_invalid_filters(stub: Any, request_: dc.ListDatasetsRequest, message: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ListDatasets(request_)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in (err.value.details() or "")
