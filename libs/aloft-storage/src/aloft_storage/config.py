"""The ``storage`` section, with Flyte's key names (``type``, ``container``, ``connection``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from aloft_config import Duration, Section


class ConnectionConfig(Section):
    endpoint: str = ""
    region: str = "us-east-1"
    access_key: str = Field(default="", alias="access-key")
    secret_key: str = Field(default="", alias="secret-key")
    auth_type: Literal["iam", "accesskey"] = Field(default="iam", alias="auth-type")
    disable_ssl: bool = Field(default=False, alias="disable-ssl")


class LocalConfig(Section):
    root: str = "blobs"  # relative paths are under stack.dataDir


class SignedUrlConfig(Section):
    """Local-store signed URLs are served by admin's HTTP server and verified with this HMAC secret."""

    baseUrl: str = "http://127.0.0.1:8088/api/v1/blobs"
    secret: str = ""
    defaultExpiry: Duration = Field(default="1h")  # type: ignore[assignment]


class StorageConfig(Section):
    type: Literal["local", "s3", "minio"] = "local"
    container: str = "aloft-data"
    connection: ConnectionConfig = ConnectionConfig()
    local: LocalConfig = LocalConfig()
    signedUrl: SignedUrlConfig = SignedUrlConfig()
    limits_max_download_mbs: int = Field(default=64, alias="limits-max-download-mbs")
