"""Datacatalog's configuration sections (validated at start-up), with Flyte's datacatalog key names and defaults."""

from __future__ import annotations

from aloft_auth.config import AuthConfig
from pydantic import BaseModel, ConfigDict, Field

from aloft_config import Duration
from aloft_db import DatabaseConfig
from aloft_service.logging import LoggerConfig
from aloft_service.runtime import ListenConfig, StackConfig
from aloft_service.tracing import OtelConfig
from aloft_storage import StorageConfig


class DatacatalogSection(ListenConfig):
    grpcPort: int = 8090
    httpPort: int = 8091
    # Artifact data (one blob per LiteralMap entry) lives under this key prefix of the blob store.
    storage_prefix: str = Field(default="metadata/datacatalog", alias="storage-prefix")
    # A reservation expires this many heartbeat intervals after its last GetOrExtendReservation.
    heartbeat_grace_period_multiplier: int = Field(default=3, alias="heartbeat-grace-period-multiplier", ge=1)
    # Requested heartbeat intervals are capped at this value.
    max_reservation_heartbeat: Duration = Field(default="10s", alias="max-reservation-heartbeat")  # type: ignore[assignment]
    # Page size when a List request sets no limit.
    default_page_limit: int = Field(default=50, alias="default-page-limit", ge=1)
    database: DatabaseConfig | None = None


class DatacatalogConfig(BaseModel):
    """The sections datacatalog reads from the shared Aloft config file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    datacatalog: DatacatalogSection = DatacatalogSection()
    database: DatabaseConfig = DatabaseConfig()
    storage: StorageConfig = StorageConfig()
    logger: LoggerConfig = LoggerConfig()
    otel: OtelConfig = OtelConfig()
    stack: StackConfig = StackConfig()
    auth: AuthConfig = AuthConfig()

    def effective_database(self) -> DatabaseConfig:
        return self.datacatalog.database or self.database
