"""The ``catalog-cache`` section: Flyte's keys (nodes/catalog/config.go), declared beside the client that reads them."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field

from aloft_config import Duration, Section


class CatalogCacheConfig(Section):
    # Flyte defaults to noop; the Aloft stack always runs datacatalog, so caching is on unless switched off.
    type: Literal["datacatalog", "noop"] = "datacatalog"
    # "" means propeller.datacatalogEndpoint.
    endpoint: str = ""
    insecure: bool = True
    # Artifacts older than this are a cache miss; 0 means cached results never expire.
    max_cache_age: Duration = Field(default=timedelta(0), alias="max-cache-age")  # type: ignore[assignment]
    use_admin_auth: bool = Field(default=False, alias="use-admin-auth")
    max_retries: int = Field(default=5, alias="max-retries", ge=0)
    backoff_scalar: int = Field(default=100, alias="base-scalar", ge=0, description="milliseconds")
    backoff_jitter: str = Field(default="0.1", alias="backoff-jitter")
    default_service_config: str = Field(default="", alias="default-service-config")
    # Per-call deadline, so an unreachable catalog costs one round at most (Aloft addition).
    timeout: Duration = Field(default="10s")  # type: ignore[assignment]
