"""DataProxy with an S3 blob store: presigned URLs. S3 is an S3 *emulator* (moto's server mode on a local port,
aloft_testing.s3; no AWS is reachable here), so the presigned PUT goes over real HTTP."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import httpx
import pytest
from flyteidl.service import dataproxy_pb2

from aloft_admin.config import AdminConfig
from aloft_admin.managers.dataproxy import DataProxyManager
from aloft_admin.transformers.timestamps import utcnow
from aloft_service.errors import AlreadyExists, InvalidArgument, PermissionDenied
from aloft_storage import create_blob_store
from aloft_testing.s3 import create_bucket, s3_storage_section

BUCKET = "aloft-dataproxy"


@pytest.fixture(scope="module", autouse=True)
def _bucket(s3_endpoint: str) -> None:
    create_bucket(s3_endpoint, BUCKET)


@pytest.fixture
def manager(s3_endpoint: str, tmp_path: Path) -> DataProxyManager:
    config = AdminConfig.model_validate(
        {"stack": {"dataDir": str(tmp_path)}, "storage": s3_storage_section(s3_endpoint, BUCKET)}
    )
    blobs = create_blob_store(config.storage)
    # The data proxy never touches the database for uploads; executions are not needed either.
    return DataProxyManager(blobs, utcnow, config.admin, executions=None)


def _md5(data: bytes) -> bytes:
    return hashlib.md5(data).digest()


async def test_presigned_upload_location_accepts_the_put(manager: DataProxyManager, s3_endpoint: str) -> None:
    data = b"s3 fast registration"
    reply = await manager.create_upload_location(
        dataproxy_pb2.CreateUploadLocationRequest(
            project="flytesnacks", domain="development", filename="pkg.tgz", content_md5=_md5(data)
        )
    )
    prefix = base64.b32encode(_md5(data)).decode()
    assert reply.native_url == f"s3://{BUCKET}/uploads/flytesnacks/development/{prefix}/pkg.tgz"
    assert reply.signed_url.startswith(s3_endpoint) and "X-Amz-Signature" in reply.signed_url
    async with httpx.AsyncClient() as client:
        put = await client.put(reply.signed_url, content=data, headers=dict(reply.headers))
        assert put.status_code == 200, put.text
        download = await manager.create_download_location(
            dataproxy_pb2.CreateDownloadLocationRequest(native_url=reply.native_url)
        )
        assert (await client.get(download.signed_url)).content == data


async def test_existing_s3_object_is_compared_by_etag(manager: DataProxyManager) -> None:
    native = f"s3://{BUCKET}/uploads/flytesnacks/development/root/file.py"
    await manager.blobs.write(native, b"v1")

    def request(content: bytes) -> dataproxy_pb2.CreateUploadLocationRequest:
        return dataproxy_pb2.CreateUploadLocationRequest(
            project="flytesnacks",
            domain="development",
            filename="file.py",
            filename_root="root",
            content_md5=_md5(content),
        )

    assert (await manager.create_upload_location(request(b"v1"))).native_url == native
    with pytest.raises(AlreadyExists):
        await manager.create_upload_location(request(b"v2"))


async def test_downloads_outside_admins_prefixes_are_refused(manager: DataProxyManager) -> None:
    for native in (
        f"s3://{BUCKET}/elsewhere/state.db",
        f"s3://{BUCKET}/raw/../elsewhere/state.db",
        f"s3://other-{BUCKET}/raw/x",
        f"s3://{BUCKET}/rawish/x",
    ):
        with pytest.raises((PermissionDenied, InvalidArgument)):
            await manager.create_download_location(dataproxy_pb2.CreateDownloadLocationRequest(native_url=native))
    allowed = await manager.create_download_location(
        dataproxy_pb2.CreateDownloadLocationRequest(native_url=f"s3://{BUCKET}/metadata/p/d/e/inputs.pb")
    )
    assert "X-Amz-Signature" in allowed.signed_url
