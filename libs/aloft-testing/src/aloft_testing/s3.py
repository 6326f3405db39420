"""An S3 *emulator* for tests: moto's server mode on a free local port (no AWS is reachable from tests).

Everything goes over real HTTP through boto3, so endpoint handling, presigned URLs and error mapping are exercised the
way they are against AWS S3 or MinIO. The ``s3_endpoint`` and ``s3_bucket`` fixtures (aloft_testing.fixtures) build on
these helpers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aloft_testing.servers import free_port

ACCESS_KEY = "testing"
SECRET_KEY = "testing"


@contextmanager
def moto_s3_server() -> Iterator[str]:
    """Run moto's S3 server on 127.0.0.1 and yield its endpoint URL; stopped on exit."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def s3_client(endpoint: str) -> Any:
    """A boto3 S3 client for the emulator, to set up buckets and inspect what the code under test wrote."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


def create_bucket(endpoint: str, name: str | None = None) -> str:
    """Create a bucket (a unique name unless given) and return its name."""
    bucket = name or f"aloft-{uuid.uuid4().hex[:16]}"
    s3_client(endpoint).create_bucket(Bucket=bucket)
    return bucket


def s3_storage_section(endpoint: str, bucket: str) -> dict[str, Any]:
    """The ``storage`` config section (StorageConfig) pointing at ``bucket`` on the emulator with access keys."""
    return {
        "type": "s3",
        "container": bucket,
        "connection": {
            "endpoint": endpoint,
            "auth-type": "accesskey",
            "access-key": ACCESS_KEY,
            "secret-key": SECRET_KEY,
            "disable-ssl": True,
        },
    }
