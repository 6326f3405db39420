"""Admin's configuration sections (validated at start-up; see config/aloft.yaml for every key)."""

from __future__ import annotations

from typing import Literal

from aloft_auth.config import AuthConfig
from pydantic import BaseModel, ConfigDict, Field, model_validator

from aloft_config import Duration, Section
from aloft_db import DatabaseConfig
from aloft_service.logging import LoggerConfig
from aloft_service.runtime import ListenConfig, StackConfig
from aloft_service.tracing import OtelConfig
from aloft_storage import StorageConfig


class ClusterAuthConfig(Section):
    """How admin authenticates to a data plane (Flyte's cluster ``auth``): ``file_path`` reads a bearer token
    (``tokenPath``) sent with every call; ``client_credentials`` (with ``auth.enabled``) gets OAuth2 tokens for this
    cluster's own client (``clientId``, ``clientSecretLocation``), else the platform's ``auth.internal`` client is
    used. A CA bundle (``certPath``) makes the connection TLS."""

    type: Literal["", "file_path", "client_credentials"] = ""
    tokenPath: str = ""
    certPath: str = ""
    clientId: str = ""
    clientSecretLocation: str = ""


class DataPlaneConfig(Section):
    """One data plane (cluster) admin can hand executions to over aloft.dataplane.v1."""

    name: str = "default"
    endpoint: str = "127.0.0.1:8092"
    labels: list[str] = Field(default_factory=list)
    enabled: bool = True
    weight: float = Field(default=1.0, gt=0)
    auth: ClusterAuthConfig = ClusterAuthConfig()


class LabelTarget(Section):
    id: str
    weight: float = Field(default=1.0, gt=0)


class ClustersConfig(Section):
    """Flyte's ``clusters`` section: the data planes, and label groups (``labelClusterMap``: label → clusters with
    weights). Without ``clusterConfigs`` admin uses ``admin.dataPlanes``."""

    clusterConfigs: list[DataPlaneConfig] = Field(default_factory=list)
    labelClusterMap: dict[str, list[LabelTarget]] = Field(default_factory=dict)
    # The label of executions that resolve none; unset: any enabled cluster, by weight.
    defaultExecutionLabel: str = ""


class AdminSection(ListenConfig):
    grpcPort: int = 8089
    httpPort: int = 8088
    allowCors: bool = True
    allowedOrigins: list[str] = Field(default_factory=lambda: ["*"])
    allowedHeaders: list[str] = Field(default_factory=lambda: ["Content-Type", "flyte-authorization"])
    seedProjects: list[str] = Field(default_factory=lambda: ["flytesnacks"])
    # Where inputs/closures of executions are offloaded (relative keys under the blob store root).
    metadataPrefix: str = "metadata"
    rawOutputPrefix: str = "raw"
    # Client uploads (fast-register packages, local files passed as inputs): Flyte's dataproxy.upload.storagePrefix.
    uploadPrefix: str = "uploads"
    # GetExecutionData returns full literal maps up to this size, signed URLs always.
    maxInlineDataBytes: int = 2 * 1024 * 1024
    signedUrlExpiry: Duration = Field(default="1h")  # type: ignore[assignment]
    # Upper bound for entity, project and execution names (flytekit derives long names for array nodes).
    maxNameLength: int = 255
    dataPlanes: list[DataPlaneConfig] = Field(default_factory=lambda: [DataPlaneConfig()])
    # How often hand-offs/aborts that never reached a data plane are retried.
    handoffRepairInterval: Duration = Field(default="5s")  # type: ignore[assignment]
    database: DatabaseConfig | None = None


class DomainConfig(Section):
    id: str
    name: str


class ResourceSet(Section):
    cpu: str = ""
    gpu: str = ""
    memory: str = ""
    storage: str = ""
    ephemeralStorage: str = ""


class TaskResourcesConfig(Section):
    defaults: ResourceSet = ResourceSet(cpu="500m", memory="1Gi")
    limits: ResourceSet = ResourceSet(cpu="2", memory="4Gi")


class RemoteDataConfig(Section):
    """Flyte's ``remoteData`` section: events with inline ``output_data`` above this size are refused."""

    maxSizeInBytes: int = 2 * 1024 * 1024


def _default_domains() -> list[DomainConfig]:
    return [DomainConfig(id=d, name=d) for d in ("development", "staging", "production")]


class AdminConfig(BaseModel):
    """The sections admin reads from the shared Aloft config file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    admin: AdminSection = AdminSection()
    database: DatabaseConfig = DatabaseConfig()
    storage: StorageConfig = StorageConfig()
    logger: LoggerConfig = LoggerConfig()
    otel: OtelConfig = OtelConfig()
    stack: StackConfig = StackConfig()
    domains: list[DomainConfig] = Field(default_factory=_default_domains)
    task_resources: TaskResourcesConfig = TaskResourcesConfig()
    remoteData: RemoteDataConfig = RemoteDataConfig()
    clusters: ClustersConfig = ClustersConfig()
    auth: AuthConfig = AuthConfig()

    def effective_database(self) -> DatabaseConfig:
        return self.admin.database or self.database

    def data_planes(self) -> list[DataPlaneConfig]:
        return list(self.clusters.clusterConfigs or self.admin.dataPlanes)

    @model_validator(mode="after")
    def _label_groups_name_clusters(self) -> AdminConfig:
        names = [plane.name for plane in self.data_planes()]
        if len(set(names)) != len(names):
            raise ValueError(f"cluster names must be unique (got {names})")
        for label, targets in self.clusters.labelClusterMap.items():
            unknown = sorted({t.id for t in targets} - set(names))
            if unknown:
                raise ValueError(f"clusters.labelClusterMap[{label!r}] names unknown cluster(s) {unknown}")
        return self
