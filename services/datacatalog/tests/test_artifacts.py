"""CreateArtifact, GetArtifact (by id and by tag), AddTag, ListArtifacts, UpdateArtifact over real gRPC, on SQLite and
PostgreSQL, with artifact data in a local blob store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest
from flyteidl.core import literals_pb2
from flyteidl.datacatalog import datacatalog_pb2 as dc


def _ints(artifact: dc.Artifact) -> dict[str, int]:
    return {d.name: d.value.scalar.primitive.integer for d in artifact.data}


def _blob_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def _dataset(stub: Any, make: Any, partition_keys: list[str] | None = None, **kw: str) -> dc.DatasetID:
    dataset_id = make.dataset_id(**kw)
    await stub.CreateDataset(dc.CreateDatasetRequest(dataset=dc.Dataset(id=dataset_id, partitionKeys=partition_keys)))
    return dataset_id  # type: ignore[no-any-return]


async def _expect(call: Any, code: grpc.StatusCode, *fragments: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == code, err.value.details()
    for fragment in fragments:
        assert fragment in (err.value.details() or "")


async def test_create_stores_each_data_entry_as_a_blob(catalog: Any, make: Any) -> None:
    ds = await _dataset(catalog.stub, make)
    await catalog.stub.CreateArtifact(dc.CreateArtifactRequest(artifact=make.artifact(ds, "art-1", o0=7, o1=8)))

    prefix = "metadata/datacatalog/flytesnacks/development/flyte_task-wf.t1/1.0-abc/art-1"
    assert _blob_files(catalog.blob_root) == [f"{prefix}/o0", f"{prefix}/o1"]
    stored = literals_pb2.Literal()
    stored.ParseFromString((catalog.blob_root / prefix / "o1").read_bytes())
    assert stored.scalar.primitive.integer == 8

    got = (await catalog.stub.GetArtifact(dc.GetArtifactRequest(dataset=ds, artifact_id="art-1"))).artifact
    assert got.id == "art-1" and got.dataset.name == ds.name and got.dataset.UUID
    assert _ints(got) == {"o0": 7, "o1": 8}
    assert dict(got.metadata.key_map) == {"execution": "art-1"}
    assert got.created_at.seconds > 0


async def test_get_by_tag_follows_the_tag_as_it_moves(stub: Any, make: Any) -> None:
    ds = await _dataset(stub, make)
    await stub.CreateArtifact(dc.CreateArtifactRequest(artifact=make.artifact(ds, "first", o0=1)))
    await stub.CreateArtifact(dc.CreateArtifactRequest(artifact=make.artifact(ds, "second", o0=2)))

    await stub.AddTag(dc.AddTagRequest(tag=dc.Tag(name="inputs-hash", artifact_id="first", dataset=ds)))
    got = (await stub.GetArtifact(dc.GetArtifactRequest(dataset=ds, tag_name="inputs-hash"))).artifact
    assert got.id == "first" and _ints(got) == {"o0": 1}
    assert [t.name for t in got.tags] == ["inputs-hash"]

    await stub.AddTag(dc.AddTagRequest(tag=dc.Tag(name="inputs-hash", artifact_id="second", dataset=ds)))
    await stub.AddTag(dc.AddTagRequest(tag=dc.Tag(name="inputs-hash", artifact_id="second", dataset=ds)))  # idempotent
    got = (await stub.GetArtifact(dc.GetArtifactRequest(dataset=ds, tag_name="inputs-hash"))).artifact
    assert got.id == "second" and _ints(got) == {"o0": 2}
    first = (await stub.GetArtifact(dc.GetArtifactRequest(dataset=ds, artifact_id="first"))).artifact
    assert list(first.tags) == []


async def test_duplicate_artifact_is_already_exists_and_keeps_the_original_data(stub: Any, make: Any) -> None:
    ds = await _dataset(stub, make)
    await stub.CreateArtifact(dc.CreateArtifactRequest(artifact=make.artifact(ds, "art", o0=1)))
    await _expect(
        stub.CreateArtifact(dc.CreateArtifactRequest(artifact=make.artifact(ds, "art", o0=99))),
        grpc.StatusCode.ALREADY_EXISTS,
        "'art'",
    )
    got = (await stub.GetArtifact(dc.GetArtifactRequest(dataset=ds, artifact_id="art"))).artifact
    assert _ints(got) == {"o0": 1}


async def test_artifact_for_unknown_dataset_writes_nothing(catalog: Any, make: Any) -> None:
    ds = make.dataset_id(name="missing")
    await _expect(
        catalog.stub.CreateArtifact(dc.CreateArtifactRequest(artifact=make.artifact(ds, "art"))),
        grpc.StatusCode.NOT_FOUND,
        "missing",
    )
    assert _blob_files(catalog.blob_root) == []


async def test_partitions_must_match_the_dataset_keys(catalog: Any, make: Any) -> None:
    ds = await _dataset(catalog.stub, make, partition_keys=["region", "day"])
    await _expect(
        catalog.stub.CreateArtifact(dc.CreateArtifactRequest(artifact=make.artifact(ds, "a", {"region": "eu"}))),
        grpc.StatusCode.INVALID_ARGUMENT,
        "partition",
    )
    assert _blob_files(catalog.blob_root) == []
    full = make.artifact(ds, "a", {"region": "eu", "day": "mon"})
    await catalog.stub.CreateArtifact(dc.CreateArtifactRequest(artifact=full))
    got = (await catalog.stub.GetArtifact(dc.GetArtifactRequest(dataset=ds, artifact_id="a"))).artifact
    assert {(p.key, p.value) for p in got.partitions} == {("region", "eu"), ("day", "mon")}


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda a: a.ClearField("dataset"), "artifact.dataset"),
        (lambda a: setattr(a, "id", ""), "artifact.id"),
        (lambda a: a.ClearField("data"), "artifact.data"),
        (lambda a: a.data.add(name="o0"), "artifact.data.name"),
        (lambda a: setattr(a.dataset, "project", ""), "artifact.dataset.project"),
    ],
)
async def test_create_artifact_rejects_bad_input(stub: Any, make: Any, mutate: Any, field: str) -> None:
    ds = await _dataset(stub, make)
    artifact = make.artifact(ds, "art")
    mutate(artifact)
    await _expect(
        stub.CreateArtifact(dc.CreateArtifactRequest(artifact=artifact)), grpc.StatusCode.INVALID_ARGUMENT, field
    )


async def test_get_errors(stub: Any, make: Any) -> None:
    ds = await _dataset(stub, make)
    await _expect(stub.GetArtifact(dc.GetArtifactRequest(dataset=ds)), grpc.StatusCode.INVALID_ARGUMENT, "artifact_id")
    await _expect(stub.GetArtifact(dc.GetArtifactRequest(tag_name="t")), grpc.StatusCode.INVALID_ARGUMENT, "dataset")
    await _expect(
        stub.GetArtifact(dc.GetArtifactRequest(dataset=ds, artifact_id="x")), grpc.StatusCode.NOT_FOUND, "'x'"
    )
    await _expect(stub.GetArtifact(dc.GetArtifactRequest(dataset=ds, tag_name="t")), grpc.StatusCode.NOT_FOUND, "'t'")
    unknown = make.dataset_id(name="other")
    await _expect(
        stub.GetArtifact(dc.GetArtifactRequest(dataset=unknown, artifact_id="x")), grpc.StatusCode.NOT_FOUND, "other"
    )


async def test_add_tag_errors(stub: Any, make: Any) -> None:
    ds = await _dataset(stub, make)
    await _expect(
        stub.AddTag(dc.AddTagRequest(tag=dc.Tag(name="t", artifact_id="nope", dataset=ds))),
        grpc.StatusCode.NOT_FOUND,
        "'nope'",
    )
    await _expect(
        stub.AddTag(dc.AddTagRequest(tag=dc.Tag(name="", artifact_id="a", dataset=ds))),
        grpc.StatusCode.INVALID_ARGUMENT,
        "tag.name",
    )
    await _expect(
        stub.AddTag(dc.AddTagRequest(tag=dc.Tag(name="t", artifact_id="a", dataset=make.dataset_id(name="gone")))),
        grpc.StatusCode.NOT_FOUND,
        "gone",
    )


async def test_list_artifacts_filters_and_paginates(stub: Any, make: Any) -> None:
    ds = await _dataset(stub, make, partition_keys=["region"])
    other = await _dataset(stub, make, partition_keys=["region"], name="other")
    for i in range(7):
        region = "eu" if i % 2 == 0 else "us"
        await stub.CreateArtifact(
            dc.CreateArtifactRequest(artifact=make.artifact(ds, f"a{i}", {"region": region}, o0=i))
        )
    await stub.CreateArtifact(dc.CreateArtifactRequest(artifact=make.artifact(other, "x", {"region": "eu"})))
    await stub.AddTag(dc.AddTagRequest(tag=dc.Tag(name="best", artifact_id="a4", dataset=ds)))

    def single(**kw: Any) -> dc.SinglePropertyFilter:
        return dc.SinglePropertyFilter(**kw)

    everything = await stub.ListArtifacts(dc.ListArtifactsRequest(dataset=ds))
    assert [a.id for a in everything.artifacts] == [f"a{i}" for i in reversed(range(7))]  # newest first by default
    assert everything.next_token == ""
    assert _ints(everything.artifacts[0]) == {"o0": 6}

    eu = single(partition_filter=dc.PartitionPropertyFilter(key_val=dc.KeyValuePair(key="region", value="eu")))
    by_region = await stub.ListArtifacts(dc.ListArtifactsRequest(dataset=ds, filter=dc.FilterExpression(filters=[eu])))
    assert sorted(a.id for a in by_region.artifacts) == ["a0", "a2", "a4", "a6"]

    tagged = single(tag_filter=dc.TagPropertyFilter(tag_name="best"))
    both = await stub.ListArtifacts(
        dc.ListArtifactsRequest(dataset=ds, filter=dc.FilterExpression(filters=[eu, tagged]))
    )
    assert [a.id for a in both.artifacts] == ["a4"]

    by_id = single(artifact_filter=dc.ArtifactPropertyFilter(artifact_id="a3"))
    one = await stub.ListArtifacts(dc.ListArtifactsRequest(dataset=ds, filter=dc.FilterExpression(filters=[by_id])))
    assert [a.id for a in one.artifacts] == ["a3"]

    pages: list[list[str]] = []
    token = ""
    while True:
        options = dc.PaginationOptions(limit=3, token=token, sortOrder=dc.PaginationOptions.ASCENDING)
        page = await stub.ListArtifacts(dc.ListArtifactsRequest(dataset=ds, pagination=options))
        pages.append([a.id for a in page.artifacts])
        token = page.next_token
        if not token:
            break
    assert pages == [["a0", "a1", "a2"], ["a3", "a4", "a5"], ["a6"]]


async def test_list_artifacts_errors(stub: Any, make: Any) -> None:
    ds = await _dataset(stub, make)
    dataset_filter = dc.SinglePropertyFilter(dataset_filter=dc.DatasetPropertyFilter(project="p"))
    await _expect(
        stub.ListArtifacts(dc.ListArtifactsRequest(dataset=ds, filter=dc.FilterExpression(filters=[dataset_filter]))),
        grpc.StatusCode.INVALID_ARGUMENT,
        "cannot filter artifacts by dataset_filter",
    )
    await _expect(
        stub.ListArtifacts(dc.ListArtifactsRequest(dataset=ds, pagination=dc.PaginationOptions(token="-1"))),
        grpc.StatusCode.INVALID_ARGUMENT,
        "invalid token",
    )
    await _expect(
        stub.ListArtifacts(dc.ListArtifactsRequest(dataset=make.dataset_id(name="gone"))),
        grpc.StatusCode.NOT_FOUND,
        "gone",
    )
    await _expect(stub.ListArtifacts(dc.ListArtifactsRequest()), grpc.StatusCode.INVALID_ARGUMENT, "dataset")


async def test_update_replaces_data_and_metadata(catalog: Any, make: Any) -> None:
    stub = catalog.stub
    ds = await _dataset(stub, make)
    await stub.CreateArtifact(dc.CreateArtifactRequest(artifact=make.artifact(ds, "art", o0=1, old=2)))
    await stub.AddTag(dc.AddTagRequest(tag=dc.Tag(name="t", artifact_id="art", dataset=ds)))

    reply = await stub.UpdateArtifact(
        dc.UpdateArtifactRequest(
            dataset=ds, tag_name="t", data=make.data(o0=10, new=20), metadata=dc.Metadata(key_map={"k": "v"})
        )
    )
    assert reply.artifact_id == "art"
    got = (await stub.GetArtifact(dc.GetArtifactRequest(dataset=ds, artifact_id="art"))).artifact
    assert _ints(got) == {"o0": 10, "new": 20}
    assert dict(got.metadata.key_map) == {"k": "v"}
    prefix = "metadata/datacatalog/flytesnacks/development/flyte_task-wf.t1/1.0-abc/art"
    assert _blob_files(catalog.blob_root) == [f"{prefix}/new", f"{prefix}/o0"]  # the dropped entry is deleted

    await stub.UpdateArtifact(dc.UpdateArtifactRequest(dataset=ds, artifact_id="art", data=make.data(o0=11)))
    got = (await stub.GetArtifact(dc.GetArtifactRequest(dataset=ds, tag_name="t"))).artifact
    assert _ints(got) == {"o0": 11}
    assert dict(got.metadata.key_map) == {"k": "v"}  # metadata unchanged when not sent


async def test_update_errors(stub: Any, make: Any) -> None:
    ds = await _dataset(stub, make)
    await _expect(
        stub.UpdateArtifact(dc.UpdateArtifactRequest(dataset=ds, artifact_id="nope", data=make.data(o0=1))),
        grpc.StatusCode.NOT_FOUND,
        "'nope'",
    )
    await _expect(
        stub.UpdateArtifact(dc.UpdateArtifactRequest(dataset=ds, tag_name="nope", data=make.data(o0=1))),
        grpc.StatusCode.NOT_FOUND,
        "'nope'",
    )
    await stub.CreateArtifact(dc.CreateArtifactRequest(artifact=make.artifact(ds, "art", o0=1)))
    await _expect(
        stub.UpdateArtifact(dc.UpdateArtifactRequest(dataset=ds, artifact_id="art")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "data",
    )
    await _expect(
        stub.UpdateArtifact(dc.UpdateArtifactRequest(dataset=ds, data=make.data(o0=1))),
        grpc.StatusCode.INVALID_ARGUMENT,
        "artifact_id / tag_name",
    )
    got = (await stub.GetArtifact(dc.GetArtifactRequest(dataset=ds, artifact_id="art"))).artifact
    assert _ints(got) == {"o0": 1}
