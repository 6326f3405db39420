"""``s3://`` blob store on boto3 (AWS S3 or any S3-compatible endpoint); presigned URLs for clients."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from aloft_storage.base import BlobNotFound, BlobStore
from aloft_storage.config import StorageConfig


def _split(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3":
        raise ValueError(f"{uri} is not an s3:// URI")
    return parsed.netloc, parsed.path.lstrip("/")


def _missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


class S3BlobStore(BlobStore):
    scheme = "s3"

    def __init__(self, config: StorageConfig, client: Any | None = None) -> None:
        conn = config.connection
        self.bucket = config.container
        self._default_expiry = config.signedUrl.defaultExpiry
        if client is None:
            kwargs: dict[str, Any] = {"region_name": conn.region, "config": BotoConfig(signature_version="s3v4")}
            if conn.endpoint:
                kwargs["endpoint_url"] = conn.endpoint
                kwargs["use_ssl"] = not conn.disable_ssl
            if conn.auth_type == "accesskey":
                kwargs["aws_access_key_id"] = conn.access_key
                kwargs["aws_secret_access_key"] = conn.secret_key
            client = boto3.client("s3", **kwargs)
        self.client = client

    @property
    def base_uri(self) -> str:
        return f"s3://{self.bucket}"

    async def read(self, uri: str) -> bytes:
        bucket, key = _split(uri)

        def _get() -> bytes:
            try:
                return bytes(self.client.get_object(Bucket=bucket, Key=key)["Body"].read())
            except ClientError as exc:
                if _missing(exc):
                    raise BlobNotFound(uri) from exc
                raise

        return await asyncio.to_thread(_get)

    async def write(self, uri: str, data: bytes) -> None:
        bucket, key = _split(uri)
        await asyncio.to_thread(self.client.put_object, Bucket=bucket, Key=key, Body=data)

    async def size(self, uri: str) -> int:
        bucket, key = _split(uri)

        def _head() -> int:
            try:
                return int(self.client.head_object(Bucket=bucket, Key=key)["ContentLength"])
            except ClientError as exc:
                if _missing(exc):
                    raise BlobNotFound(uri) from exc
                raise

        return await asyncio.to_thread(_head)

    async def exists(self, uri: str) -> bool:
        try:
            await self.size(uri)
        except BlobNotFound:
            return False
        return True

    async def delete(self, uri: str) -> None:
        bucket, key = _split(uri)
        await asyncio.to_thread(self.client.delete_object, Bucket=bucket, Key=key)

    async def list(self, prefix_uri: str) -> list[str]:
        bucket, prefix = _split(prefix_uri)

        def _list() -> list[str]:
            out: list[str] = []
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                out.extend(f"s3://{bucket}/{obj['Key']}" for obj in page.get("Contents", []))
            return sorted(out)

        return await asyncio.to_thread(_list)

    def signed_url(
        self, uri: str, method: str = "GET", expires_in: timedelta | None = None, content_md5: str = ""
    ) -> str:
        bucket, key = _split(uri)
        operation = {"GET": "get_object", "PUT": "put_object", "HEAD": "head_object"}[method.upper()]
        params: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if content_md5 and operation == "put_object":
            params["ContentMD5"] = content_md5
        expiry = int((expires_in or self._default_expiry).total_seconds())
        return str(self.client.generate_presigned_url(operation, Params=params, ExpiresIn=expiry))
