"""The s3:// blob store against moto's S3 server mode: an S3 *emulator* on a local port (no AWS is reachable here).

Everything goes over real HTTP through boto3, so endpoint handling, presigned URLs and error mapping are exercised
the way they are against AWS S3 or MinIO.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator

import boto3
import httpx
import pytest
from flyteidl.core import literals_pb2
from moto.server import ThreadedMotoServer

from aloft_storage import BlobNotFound, StorageConfig, create_blob_store
from aloft_storage.s3 import S3BlobStore
from aloft_testing.servers import free_port


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def store(s3_endpoint: str, request: pytest.FixtureRequest) -> S3BlobStore:
    bucket = f"aloft-{request.node.name.replace('_', '-')[:40].lower()}"
    config = StorageConfig.model_validate(
        {
            "type": "s3",
            "container": bucket,
            "connection": {
                "endpoint": s3_endpoint,
                "auth-type": "accesskey",
                "access-key": "testing",
                "secret-key": "testing",
                "disable-ssl": True,
            },
        }
    )
    boto3.client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    ).create_bucket(Bucket=bucket)
    created = create_blob_store(config)
    assert isinstance(created, S3BlobStore)
    return created


async def test_write_read_exists_size_delete(store: S3BlobStore) -> None:
    uri = store.uri("metadata", "blob")
    assert uri == f"s3://{store.bucket}/metadata/blob"
    assert not await store.exists(uri)
    await store.write(uri, b"payload")
    assert await store.read(uri) == b"payload"
    assert await store.size(uri) == 7
    await store.delete(uri)
    with pytest.raises(BlobNotFound):
        await store.read(uri)


async def test_proto_round_trip_and_list(store: S3BlobStore) -> None:
    lm = literals_pb2.LiteralMap()
    lm.literals["x"].scalar.primitive.float_value = 1.5
    for key in ("run/b.pb", "run/a.pb", "elsewhere/c.pb"):
        await store.write_proto(store.uri(key), lm)
    assert await store.read_proto(store.uri("run/a.pb"), literals_pb2.LiteralMap) == lm
    assert await store.list(store.uri("run")) == [store.uri("run/a.pb"), store.uri("run/b.pb")]


async def test_presigned_put_and_get_work_with_a_plain_http_client(store: S3BlobStore) -> None:
    uri = store.uri("uploads", "code.tar.gz")
    body = b"fast-registration bundle"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    put_url = store.signed_url(uri, "PUT", content_md5=md5)
    async with httpx.AsyncClient() as client:
        put = await client.put(put_url, content=body, headers={"Content-MD5": md5})
        assert put.status_code == 200, put.text
        got = await client.get(store.signed_url(uri, "GET"))
    assert got.status_code == 200
    assert got.content == body


def test_non_s3_uris_are_refused(store: S3BlobStore) -> None:
    with pytest.raises(ValueError, match="not an s3:// URI"):
        store.signed_url("file:///tmp/x")
