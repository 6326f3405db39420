"""The s3:// blob store against an S3 *emulator* (moto's server mode on a local port, aloft_testing.s3; no AWS is
reachable here). Everything goes over real HTTP through boto3, so endpoint handling, presigned URLs and error mapping
are exercised the way they are against AWS S3 or MinIO.
"""

from __future__ import annotations

import base64
import hashlib

import httpx
import pytest
from flyteidl.core import literals_pb2

from aloft_storage import BlobNotFound, StorageConfig, create_blob_store
from aloft_storage.s3 import S3BlobStore
from aloft_testing.s3 import s3_storage_section


@pytest.fixture
def store(s3_endpoint: str, s3_bucket: str) -> S3BlobStore:
    created = create_blob_store(StorageConfig.model_validate(s3_storage_section(s3_endpoint, s3_bucket)))
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
