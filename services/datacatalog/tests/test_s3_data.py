"""Artifact data in S3. S3 is moto's server mode, an S3 *emulator* on a local port (aloft_testing.s3; no AWS is
reachable here); the
datacatalog talks to it with its real boto3 client, exactly as it would to S3."""

from __future__ import annotations

from typing import Any

import pytest
from flyteidl.core import literals_pb2
from flyteidl.datacatalog import datacatalog_pb2 as dc

from aloft_testing.s3 import create_bucket, s3_storage_section
from aloft_testing.s3 import s3_client as aloft_s3_client

BUCKET = "aloft-datacatalog"


@pytest.fixture(scope="module")
def s3_client(s3_endpoint: str) -> Any:
    create_bucket(s3_endpoint, BUCKET)
    return aloft_s3_client(s3_endpoint)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_artifact_data_round_trips_through_s3(start_catalog: Any, s3_client: Any, make: Any) -> None:
    endpoint = s3_client.meta.endpoint_url
    storage = s3_storage_section(endpoint, BUCKET)
    stub = (await start_catalog(storage=storage)).stub
    ds = make.dataset_id()
    await stub.CreateDataset(dc.CreateDatasetRequest(dataset=dc.Dataset(id=ds)))
    await stub.CreateArtifact(dc.CreateArtifactRequest(artifact=make.artifact(ds, "art", o0=5, dropped=6)))
    await stub.AddTag(dc.AddTagRequest(tag=dc.Tag(name="t", artifact_id="art", dataset=ds)))

    prefix = "metadata/datacatalog/flytesnacks/development/flyte_task-wf.t1/1.0-abc/art/"
    keys = sorted(o["Key"] for o in s3_client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"])
    assert keys == [prefix + "dropped", prefix + "o0"]
    stored = literals_pb2.Literal()
    stored.ParseFromString(s3_client.get_object(Bucket=BUCKET, Key=prefix + "o0")["Body"].read())
    assert stored.scalar.primitive.integer == 5

    await stub.UpdateArtifact(dc.UpdateArtifactRequest(dataset=ds, tag_name="t", data=make.data(o0=7)))
    got = (await stub.GetArtifact(dc.GetArtifactRequest(dataset=ds, tag_name="t"))).artifact
    assert {d.name: d.value.scalar.primitive.integer for d in got.data} == {"o0": 7}
    keys = sorted(o["Key"] for o in s3_client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"])
    assert keys == [prefix + "o0"]
