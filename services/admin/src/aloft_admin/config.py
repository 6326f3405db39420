"""Admin's configuration sections (validated at start-up; see config/aloft.yaml for every key)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
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
    # The cluster's Kubernetes API, for the cluster resource controller: a kubeconfig file (and context in it).
    kubeConfig: str = ""
    kubeContext: str = ""


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
    # The web console on this HTTP port (as Flyte's single binary serves it), when aloft-console is installed;
    # "" turns it off. flytekit prints execution links as <console.endpoint>/console/projects/...
    consoleBasePath: str = "/console"
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
    # CreateExecution answers once the execution is committed and hands it to the data plane in the background
    # (a crash before the hand-off is repaired as above); false waits for the data plane's answer.
    handoffInBackground: bool = True
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


# --- Egress: cloud events and notifications (Flyte's ``cloudEvents`` and ``notifications`` sections) -------------


class OutboxConfig(Section):
    """How admin drains its durable outbox (rows written in the event's own transaction)."""

    pollInterval: Duration = Field(default="500ms")  # type: ignore[assignment]
    batchSize: int = Field(default=200, gt=0)
    # A failed publish or send is retried from retryDelay, doubling up to maxRetryDelay.
    retryDelay: Duration = Field(default="500ms")  # type: ignore[assignment]
    maxRetryDelay: Duration = Field(default="30s")  # type: ignore[assignment]
    # One admin replica drains a stream at a time (per-entity order); its lease lasts this long without renewal.
    leaseDuration: Duration = Field(default="15s")  # type: ignore[assignment]


class AWSConfig(Section):
    region: str = ""


class GCPConfig(Section):
    projectId: str = ""


class KafkaSASLConfig(Section):
    enabled: bool = False
    user: str = ""
    password: str = ""
    # Read (whitespace trimmed) in place of ``password`` when set, as Flyte does.
    passwordPath: str = ""
    handshake: bool = True
    # PLAIN (default), SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER or GSSAPI (sarama's names, librdkafka's too).
    mechanism: str = ""


class KafkaTLSConfig(Section):
    enabled: bool = False
    insecureSkipVerify: bool = False
    certPath: str = ""
    keyPath: str = ""


class KafkaConfig(Section):
    """Flyte's ``cloudEvents.kafka``: the brokers, the protocol version to speak (sarama's form, e.g. ``2.1.0``;
    "" lets the client ask the broker), SASL and TLS."""

    version: str = ""
    brokers: list[str] = Field(default_factory=list)
    saslConfig: KafkaSASLConfig = KafkaSASLConfig()
    tlsConfig: KafkaTLSConfig = KafkaTLSConfig()

    @model_validator(mode="after")
    def _sarama_version(self) -> KafkaConfig:
        if self.version and not re.fullmatch(r"(0\.\d+\.\d+\.\d+|\d+\.\d+\.\d+)", self.version):
            raise ValueError(f"cloudEvents.kafka.version {self.version!r} is not a Kafka version (e.g. 2.1.0, 0.8.2.0)")
        return self


class NatsUserPassAuthConfig(Section):
    enabled: bool = False
    user: str = ""
    password: str = ""


class NatsTokenAuthConfig(Section):
    enabled: bool = False
    token: str = ""


class NatsJetStreamConfig(Section):
    """Aloft's addition: publish through JetStream so every event is acknowledged as stored (at-least-once end to
    end); ``stream`` is created over the topic when missing. Off: plain NATS publish, as Flyte."""

    enabled: bool = False
    stream: str = "flyte-events"


class NatsConfig(Section):
    servers: list[str] = Field(default_factory=lambda: ["127.0.0.1:4222"])
    userAuthentication: NatsUserPassAuthConfig = NatsUserPassAuthConfig()
    tokenAuthentication: NatsTokenAuthConfig = NatsTokenAuthConfig()
    jetStream: NatsJetStreamConfig = NatsJetStreamConfig()


EVENT_TYPES = ("all", "*", "workflow", "node", "task")


class EventsPublisherConfig(Section):
    topicName: str = ""
    eventTypes: list[str] = Field(default_factory=lambda: ["all"])
    enrichAllWorkflowEventTypes: bool = False

    @model_validator(mode="after")
    def _known_event_types(self) -> EventsPublisherConfig:
        unknown = sorted(set(self.eventTypes) - set(EVENT_TYPES))
        if unknown:
            raise ValueError(f"eventsPublisher.eventTypes: unsupported {unknown} (use {list(EVENT_TYPES)})")
        return self


class CloudEventsConfig(Section):
    """Flyte's ``cloudEvents``: workflow, node and task events published as CloudEvents (off unless ``enable``)."""

    enable: bool = False
    type: Literal["", "local", "nats", "aws", "gcp", "kafka"] = "local"
    aws: AWSConfig = AWSConfig()
    gcp: GCPConfig = GCPConfig()
    kafka: KafkaConfig = KafkaConfig()
    nats: NatsConfig = NatsConfig()
    eventsPublisher: EventsPublisherConfig = EventsPublisherConfig()
    reconnectAttempts: int = 0
    reconnectDelaySeconds: int = 0
    # v1: the admin event request as JSON in ``data``; v2: Flyte's enriched events (``flyteidl.event.CloudEvent*``
    # with the execution's labels, launch plan, output interface …), types ``com.flyte.resource.cloudevents.*``.
    cloudEventVersion: Literal["v1", "v2"] = "v1"
    outbox: OutboxConfig = OutboxConfig()

    def publishing(self) -> bool:
        return self.enable and self.type in ("nats", "aws", "gcp", "kafka")

    @model_validator(mode="after")
    def _topic_when_publishing(self) -> CloudEventsConfig:
        if not self.publishing():
            return self
        if not self.eventsPublisher.topicName:
            raise ValueError("cloudEvents.eventsPublisher.topicName is required when cloud events are enabled")
        if self.type == "kafka" and not self.kafka.brokers:
            raise ValueError("cloudEvents type kafka needs kafka.brokers")
        if self.type == "gcp" and not self.gcp.projectId:
            raise ValueError("cloudEvents type gcp needs gcp.projectId")
        return self


class EmailServerConfig(Section):
    serviceName: Literal["", "smtp", "sendgrid"] = ""
    # sendgrid: the API key from this environment variable, else from this file (Flyte's order).
    apiKeyEnvVar: str = ""
    apiKeyFilePath: str = ""
    # Aloft: SendGrid's API base URL (Flyte's client has it built in).
    sendgridEndpoint: str = "https://api.sendgrid.com"
    smtpServer: str = ""
    smtpPort: str = "25"
    smtpSkipTLSVerify: bool = False
    smtpUsername: str = ""
    # Flyte reads the password from its secret manager; Aloft from this environment variable.
    smtpPasswordSecretName: str = ""


class NotificationsEmailerConfig(Section):
    emailServerConfig: EmailServerConfig = EmailServerConfig()
    subject: str = 'Notice: Execution "{{ name }}" has {{ phase }} in "{{ domain }}".'
    sender: str = "flyte-notifications@example.com"
    body: str = (
        'Execution "{{ name }}" has {{ phase }} in "{{ domain }}". View details at '
        "<a href=http://localhost:8080/console/projects/{{ project }}/domains/{{ domain }}/executions/{{ name }}>"
        "http://localhost:8080/console/projects/{{ project }}/domains/{{ domain }}/executions/{{ name }}</a>. "
        "{{ error }}"
    )


class NotificationsPublisherConfig(Section):
    topicName: str = ""


class NotificationsProcessorConfig(Section):
    queueName: str = ""
    accountId: str = ""


class NotificationsConfig(Section):
    """Flyte's ``notifications``: emails (Slack and PagerDuty through their email integrations) when executions
    reach the phases their launch plan or execution spec names. ``sandbox``: processed inside admin (default);
    ``aws``: published to the SNS topic ``publisher.topicName``, processed from the SQS queue ``processor.queueName``
    subscribed to it, sent with SES (unless ``emailServerConfig`` names another service); ``gcp``: published to the
    Pub/Sub topic ``publisher.topicName`` of ``gcp.projectId``, processed from its subscription
    ``processor.queueName``, sent by ``emailServerConfig``'s service; ``local``/"": none."""

    type: Literal["", "local", "sandbox", "aws", "gcp"] = "sandbox"
    region: str = ""
    aws: AWSConfig = AWSConfig()
    gcp: GCPConfig = GCPConfig()
    publisher: NotificationsPublisherConfig = NotificationsPublisherConfig()
    processor: NotificationsProcessorConfig = NotificationsProcessorConfig()
    emailer: NotificationsEmailerConfig = NotificationsEmailerConfig()
    reconnectAttempts: int = 0
    reconnectDelaySeconds: int = 0
    # A send is attempted at most this often (backing off as outbox.retryDelay/maxRetryDelay), then dropped + logged.
    maxSendAttempts: int = Field(default=10, gt=0)
    outbox: OutboxConfig = OutboxConfig()

    def sending(self) -> bool:
        return self.type in ("sandbox", "aws", "gcp")

    def aws_region(self) -> str:
        return self.aws.region or self.region

    @model_validator(mode="after")
    def _processor_names(self) -> NotificationsConfig:
        if self.type in ("aws", "gcp") and not (self.publisher.topicName and self.processor.queueName):
            raise ValueError(f"notifications type {self.type} needs publisher.topicName and processor.queueName")
        if self.type == "gcp" and not self.gcp.projectId:
            raise ValueError("notifications type gcp needs gcp.projectId")
        return self


# --- Cluster resources (Flyte's ``cluster_resources`` and ``namespace_mapping``) ----------------------------------


class DataSourceValueFrom(Section):
    env: str = ""
    filePath: str = ""


class DataSource(Section):
    """A template value: ``value``, or read from an environment variable or a file."""

    value: str = ""
    valueFrom: DataSourceValueFrom = DataSourceValueFrom()


class ClusterResourcesConfig(Section):
    """Flyte's ``cluster_resources``: the templates (``*.yaml`` in ``templatePath``, applied per project-domain
    namespace in file-name order), values for every namespace (``templateData``), per-domain defaults
    (``customData``) that CLUSTER_RESOURCE attributes of a project-domain override."""

    templatePath: str = ""
    templateData: dict[str, DataSource] = Field(default_factory=dict)
    refreshInterval: Duration = Field(default="1m")  # type: ignore[assignment]
    customData: dict[str, dict[str, DataSource]] = Field(default_factory=dict)
    standaloneDeployment: bool = False
    # Where the controller reads projects and attributes (AdminService); "" = this admin's grpcPort on 127.0.0.1.
    adminEndpoint: str = ""


class NamespaceMappingConfig(Section):
    template: str = "{{ project }}-{{ domain }}"


class SslOptions(Section):
    certificateFile: str = ""
    keyFile: str = ""


class ServerSecurity(Section):
    """Flyte's ``server.security``: CORS of admin's HTTP port (given here, it replaces ``admin.allowCors``,
    ``admin.allowedOrigins`` and ``admin.allowedHeaders``) and TLS on it (``secure`` with ``ssl``)."""

    secure: bool = False
    ssl: SslOptions = SslOptions()
    allowCors: bool = True
    allowedOrigins: list[str] = Field(default_factory=lambda: ["*"])
    allowedHeaders: list[str] = Field(default_factory=lambda: ["Content-Type", "flyte-authorization"])

    @model_validator(mode="after")
    def _certificate_when_secure(self) -> ServerSecurity:
        if not self.secure:
            return self
        for key in ("certificateFile", "keyFile"):
            value = getattr(self.ssl, key)
            if not value:
                raise ValueError(f"server.security.secure needs server.security.ssl.{key}")
            if not Path(value).is_file():
                raise ValueError(f"server.security.ssl.{key} {value!r} does not exist")
        return self


class ServerSection(Section):
    security: ServerSecurity = ServerSecurity()


@dataclass(frozen=True)
class Cors:
    """Which other origins' pages may call admin's HTTP port, and with which headers."""

    allowed: bool
    origins: tuple[str, ...]
    headers: tuple[str, ...]


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
    cloudEvents: CloudEventsConfig = CloudEventsConfig()
    notifications: NotificationsConfig = NotificationsConfig()
    cluster_resources: ClusterResourcesConfig = ClusterResourcesConfig()
    namespace_mapping: NamespaceMappingConfig = NamespaceMappingConfig()
    auth: AuthConfig = AuthConfig()
    server: ServerSection = ServerSection()

    def effective_database(self) -> DatabaseConfig:
        return self.admin.database or self.database

    def data_planes(self) -> list[DataPlaneConfig]:
        return list(self.clusters.clusterConfigs or self.admin.dataPlanes)

    def cors(self) -> Cors:
        """``server.security``'s CORS settings when that block is given (Flyte's names), else ``admin``'s."""
        given = self.server.security if "security" in self.server.model_fields_set else self.admin
        return Cors(given.allowCors, tuple(given.allowedOrigins), tuple(given.allowedHeaders))

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
