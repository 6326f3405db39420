"""Propeller's configuration sections, with the key names and defaults of Flyte's propeller config."""

from __future__ import annotations

from typing import Any, Literal

from aloft_auth.config import AuthConfig
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from aloft_config import Duration, Section
from aloft_db import DatabaseConfig
from aloft_propeller.catalog.config import CatalogCacheConfig
from aloft_propeller.resourcemanager.config import ResourceManagerConfig
from aloft_propeller.shardmanager.config import ManagerConfig
from aloft_service.logging import LoggerConfig
from aloft_service.runtime import StackConfig
from aloft_service.tracing import OtelConfig
from aloft_storage import StorageConfig


class QueueRateConfig(Section):
    type: str = "maxof"
    rate: int = 1000
    capacity: int = 10000
    base_delay: Duration = Field(default="5ms", alias="base-delay")  # type: ignore[assignment]
    max_delay: Duration = Field(default="60s", alias="max-delay")  # type: ignore[assignment]


class QueueConfig(Section):
    type: str = "batch"
    batching_interval: Duration = Field(default="1s", alias="batching-interval")  # type: ignore[assignment]
    batch_size: int = Field(default=-1, alias="batch-size")
    queue: QueueRateConfig = QueueRateConfig()
    sub_queue: QueueRateConfig = Field(default_factory=QueueRateConfig, alias="sub-queue")


class ShardConfig(Section):
    """Which workflows this propeller owns. A manager fills it in for each shard it starts (``manager.shard``);
    a propeller started alone evaluates everything unless it is set by hand."""

    type: Literal["", "hash", "project", "domain"] = Field(default="", description="'' (all) or a strategy")
    shard_count: int = Field(default=1, alias="shard-count", ge=1)
    shard_index: int = Field(default=0, alias="shard-index", ge=0)
    include: list[str] = Field(default_factory=list)
    # With ``include: ["*"]``: the ids other shards own (the wildcard shard takes everything else).
    exclude: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> ShardConfig:
        if self.type == "hash" and self.shard_index >= self.shard_count:
            raise ValueError(f"shard-index {self.shard_index} must be < shard-count {self.shard_count}")
        if self.type in ("project", "domain") and not self.include:
            raise ValueError(f"include must list at least one {self.type} (or '*')")
        return self


class PropellerSection(Section):
    workers: int = Field(default=20, ge=1)
    workflow_reeval_duration: Duration = Field(default="10s", alias="workflow-reeval-duration")  # type: ignore[assignment]
    downstream_eval_duration: Duration = Field(default="5s", alias="downstream-eval-duration")  # type: ignore[assignment]
    max_streak_length: int = Field(default=8, alias="max-streak-length", ge=0)
    max_workflow_retries: int = Field(default=10, alias="max-workflow-retries", ge=0)
    max_ttl_hours: int = Field(default=23, alias="max-ttl-hours")
    gc_interval: Duration = Field(default="30m", alias="gc-interval")  # type: ignore[assignment]
    metadata_prefix: str = Field(default="metadata/propeller", alias="metadata-prefix")
    rawoutput_prefix: str = Field(default="", alias="rawoutput-prefix")
    queue: QueueConfig = QueueConfig()
    # Retries propeller adds for system (non-user) failures, on top of the task's user retries.
    max_node_retries_for_system_failures: int = Field(default=3, alias="max-node-retries-for-system-failures")
    cluster_id: str = Field(default="default", alias="cluster-id")
    shard: ShardConfig = ShardConfig()
    # Where this data plane serves aloft.dataplane.v1, its /metrics, and where admin listens for events.
    host: str = "127.0.0.1"
    grpcPort: int = 8092
    httpPort: int = 10254
    adminEndpoint: str = "127.0.0.1:8089"
    datacatalogEndpoint: str = "127.0.0.1:8090"
    database: DatabaseConfig | None = None


class TaskPluginsConfig(Section):
    enabled_plugins: list[str] = Field(
        default_factory=lambda: ["local-process", "dask", "ray"], alias="enabled-plugins"
    )
    default_for_task_types: dict[str, str] = Field(
        default_factory=lambda: {
            "python-task": "local-process",
            "container": "local-process",
            "container_array": "local-process",
            "raw-container": "local-process",
        },
        alias="default-for-task-types",
    )


class TasksConfig(Section):
    task_plugins: TaskPluginsConfig = Field(default_factory=TaskPluginsConfig, alias="task-plugins")
    max_plugin_phase_versions: int = Field(default=100000, alias="max-plugin-phase-versions")


class LogTemplate(Section):
    displayName: str
    templateUris: list[str]
    messageFormat: str = "JSON"
    hideOnceFinished: bool = False  # pod plugin: drop the link once the attempt ended
    showWhilePending: bool = False  # pod plugin: show it while the pod is still pending


class LogsConfig(Section):
    """Log links shown for each attempt (Flyte's ``task_logs`` plugin config)."""

    templates: list[LogTemplate] = Field(
        default_factory=lambda: [
            LogTemplate(
                displayName="Local process logs",
                # A signed GET URL of the attempt's stdout.log (admin serves local blobs only behind signatures).
                templateUris=["{{ .stdoutSignedUrl }}"],
            )
        ]
    )


class ScopeConstraint(Section):
    Value: int = Field(ge=1)


class ResourceConstraintsConfig(Section):
    """Flyte's ResourceConstraintsSpec: how many tokens one project / one project+domain may hold at once."""

    ProjectScopeResourceConstraint: ScopeConstraint | None = None
    NamespaceScopeResourceConstraint: ScopeConstraint | None = None


class LocalProcessConfig(Section):
    """The embedded task executor: tasks run as subprocesses of propeller."""

    max_concurrency: int = Field(default=8, alias="max-concurrency", ge=1)
    # Image (glob pattern) → interpreter/bin dir; "" means the Python that has flytekit (.venv-flytekit or $PATH).
    images: dict[str, str] = Field(default_factory=lambda: {"*": ""})
    work_dir: str = Field(default="", alias="work-dir")
    enforce_limits: bool = Field(default=True, alias="enforce-limits")
    kill_grace_period: Duration = Field(default="5s", alias="kill-grace-period")  # type: ignore[assignment]
    # Tokens of the ResourceManager pool `local-process:local-process` (shared by every propeller on the same
    # resourcemanager); an attempt starts only with a token. 0 = no pool, only max-concurrency throttles.
    resource_quota: int = Field(default=0, alias="resource-quota", ge=0)
    resource_constraints: ResourceConstraintsConfig = Field(
        default_factory=ResourceConstraintsConfig, alias="resource-constraints"
    )


class K8sPluginConfig(Section):
    """Tasks as Kubernetes pods (Flyte's ``plugins.k8s`` keys, plus where the cluster is)."""

    # "" = in-cluster config when propeller runs in a pod, else the default kubeconfig ($KUBECONFIG, ~/.kube/config).
    kube_config: str = Field(default="", alias="kube-config")
    kube_context: str = Field(default="", alias="kube-context")
    # Where pods go; {{ project }}, {{ domain }} (Go-style {{ .project }} too).
    namespace_template: str = Field(default="{{ project }}-{{ domain }}", alias="namespace-template")
    # Propeller's own namespace: the second place `default-pod-template-name` is looked up.
    propeller_namespace: str = Field(default="flyte", alias="propeller-namespace")
    default_pod_template_name: str = Field(default="", alias="default-pod-template-name")
    default_labels: dict[str, str] = Field(default_factory=dict, alias="default-labels")
    default_annotations: dict[str, str] = Field(default_factory=dict, alias="default-annotations")
    default_env_vars: dict[str, str] = Field(default_factory=dict, alias="default-env-vars")
    default_env_vars_from_env: dict[str, str] = Field(default_factory=dict, alias="default-env-vars-from-env")
    default_cpus: str = Field(default="1", alias="default-cpus")  # when neither the task nor TASK_RESOURCE say
    default_memory: str = Field(default="1Gi", alias="default-memory")
    default_service_account: str = Field(default="default", alias="default-service-account")
    default_tolerations: list[dict[str, Any]] = Field(default_factory=list, alias="default-tolerations")
    default_node_selector: dict[str, str] = Field(default_factory=dict, alias="default-node-selector")
    default_affinity: dict[str, Any] | None = Field(default=None, alias="default-affinity")
    default_pod_security_context: dict[str, Any] | None = Field(default=None, alias="default-pod-security-context")
    default_security_context: dict[str, Any] | None = Field(default=None, alias="default-security-context")
    scheduler_name: str = Field(default="", alias="scheduler-name")
    enable_host_networking_pod: bool | None = Field(default=None, alias="enable-host-networking-pod")
    interruptible_tolerations: list[dict[str, Any]] = Field(default_factory=list, alias="interruptible-tolerations")
    interruptible_node_selector: dict[str, str] = Field(default_factory=dict, alias="interruptible-node-selector")
    interruptible_node_selector_requirement: dict[str, Any] | None = Field(
        default=None, alias="interruptible-node-selector-requirement"
    )
    non_interruptible_node_selector_requirement: dict[str, Any] | None = Field(
        default=None, alias="non-interruptible-node-selector-requirement"
    )
    # Resource name → tolerations added when a container asks for it (e.g. nvidia.com/gpu).
    resource_tolerations: dict[str, list[dict[str, Any]]] = Field(default_factory=dict, alias="resource-tolerations")
    gpu_resource_name: str = Field(default="nvidia.com/gpu", alias="gpu-resource-name")
    gpu_device_node_label: str = Field(default="k8s.amazonaws.com/accelerator", alias="gpu-device-node-label")
    gpu_partition_size_node_label: str = Field(
        default="k8s.amazonaws.com/gpu-partition-size", alias="gpu-partition-size-node-label"
    )
    inject_finalizer: bool = Field(default=False, alias="inject-finalizer")
    delete_resource_on_finalize: bool = Field(default=False, alias="delete-resource-on-finalize")
    image_pull_backoff_grace_period: Duration = Field(  # type: ignore[assignment]
        default="3m", alias="image-pull-backoff-grace-period"
    )
    create_container_error_grace_period: Duration = Field(  # type: ignore[assignment]
        default="3m", alias="create-container-error-grace-period"
    )
    create_container_config_error_grace_period: Duration = Field(  # type: ignore[assignment]
        default="0s", alias="create-container-config-error-grace-period"
    )
    pod_pending_timeout: Duration = Field(default="0s", alias="pod-pending-timeout")  # type: ignore[assignment]
    # The pod watch starts over (a full list) this often, so a missed event is repaired.
    resync_period: Duration = Field(default="30s", alias="resync-period")  # type: ignore[assignment]
    # ResourceManager pool `k8s-pod:pods` (0 = none); NamespaceScopeResourceConstraint caps pods per namespace.
    resource_quota: int = Field(default=0, alias="resource-quota", ge=0)
    resource_constraints: ResourceConstraintsConfig = Field(
        default_factory=ResourceConstraintsConfig, alias="resource-constraints"
    )


class ConnectorDeployment(Section):
    """One connector (agent) gRPC server: Flyte's connector ``Deployment``. An entry of ``connectors`` starts from Go's
    zero values (TLS, no timeout); ``defaultConnector`` from Flyte's defaults (see DefaultConnectorDeployment)."""

    endpoint: str = ""
    insecure: bool = False
    # A gRPC service config (JSON), e.g. a load-balancing policy over the endpoint's addresses.
    defaultServiceConfig: str = ""
    # Per-call deadlines by operation: CreateTask, GetTask, DeleteTask, ExecuteTaskSync, ListConnectors (ListAgents).
    timeouts: dict[str, Duration] = Field(default_factory=dict)
    # Deadline of the calls without an entry in ``timeouts``; 0 = none.
    defaultTimeout: Duration = Field(default="0s")  # type: ignore[assignment]
    # Aloft: PEM root certificates for TLS (empty: the system's roots, as Flyte's x509.SystemCertPool).
    caCertFile: str = ""
    # Aloft: a file whose content is sent as ``authorization: Bearer <token>`` on every call (re-read per call, so a
    # rotated token is picked up), for connectors behind an authenticating proxy.
    tokenFile: str = ""

    def timeout(self, operation: str) -> float | None:
        chosen = self.timeouts.get(operation, self.defaultTimeout)
        seconds = chosen.total_seconds()
        return seconds if seconds > 0 else None


class DefaultConnectorDeployment(ConnectorDeployment):
    insecure: bool = True
    defaultTimeout: Duration = Field(default="10s")  # type: ignore[assignment]
    defaultServiceConfig: str = '{"loadBalancingConfig": [{"round_robin":{}}]}'


class WebApiCachingConfig(Section):
    """How created connector tasks are polled (Flyte's ``webApi.caching``). GetTask is asked with a backoff that
    starts at ``initialPollInterval`` (Aloft) and doubles up to ``resyncInterval`` while nothing changes."""

    resyncInterval: Duration = Field(default="30s")  # type: ignore[assignment]
    initialPollInterval: Duration = Field(default="1s")  # type: ignore[assignment]
    # Consecutive failed GetTask calls after which the attempt fails (Flyte: PERMANENT CacheFailed).
    maxSystemFailures: int = Field(default=5, ge=0)
    # Created tasks whose last report is remembered (least recently asked forgotten first: asked again at once).
    size: int = Field(default=500000, ge=10, le=500000)
    # GetTask calls in flight at once, across every attempt (Flyte's refresh workers).
    workers: int = Field(default=10, ge=1, le=10000)


class WebApiRateLimiterConfig(Section):
    """A token bucket (Flyte's ranges): ``qps`` calls a second, ``burst`` at once."""

    qps: float = Field(default=10, ge=1, le=100000)
    burst: int = Field(default=100, ge=5, le=10000)


class WebApiConfig(Section):
    # ResourceManager pools: "default" for every task type, or a task type's own pool (Aloft: by task type name).
    resourceQuotas: dict[str, int] = Field(default_factory=lambda: {"default": 1000})
    # GetTask calls (Flyte: the resource cache's refresh queue).
    readRateLimiter: WebApiRateLimiterConfig = Field(default_factory=WebApiRateLimiterConfig)
    # CreateTask / ExecuteTaskSync calls (Flyte validates it but paces nothing with it; Aloft paces task creation).
    writeRateLimiter: WebApiRateLimiterConfig = Field(default_factory=WebApiRateLimiterConfig)
    caching: WebApiCachingConfig = Field(default_factory=WebApiCachingConfig)


def _default_connector_constraints() -> ResourceConstraintsConfig:
    return ResourceConstraintsConfig(
        ProjectScopeResourceConstraint=ScopeConstraint(Value=100),
        NamespaceScopeResourceConstraint=ScopeConstraint(Value=50),
    )


class ConnectorServiceConfig(Section):
    """Flyte's ``plugins.connector-service`` (and the older ``plugins.agent-service``, whose keys say "agent")."""

    webApi: WebApiConfig = Field(default_factory=WebApiConfig)
    resourceConstraints: ResourceConstraintsConfig = Field(default_factory=_default_connector_constraints)
    defaultConnector: DefaultConnectorDeployment = Field(
        default_factory=DefaultConnectorDeployment, validation_alias=AliasChoices("defaultConnector", "defaultAgent")
    )
    connectors: dict[str, ConnectorDeployment] = Field(
        default_factory=dict, validation_alias=AliasChoices("connectors", "agents")
    )
    # task type → a key of ``connectors``; wins over what the connectors' metadata services report.
    connectorForTaskTypes: dict[str, str] = Field(
        default_factory=dict, validation_alias=AliasChoices("connectorForTaskTypes", "agentForTaskTypes")
    )
    # Task types served by ``defaultConnector`` when no connector reports them.
    supportedTaskTypes: list[str] = Field(default_factory=list)
    # How often the connectors' metadata services are asked which task types they serve.
    pollInterval: Duration = Field(default="10s")  # type: ignore[assignment]

    @model_validator(mode="after")
    def _task_types_name_connectors(self) -> ConnectorServiceConfig:
        for task_type, name in self.connectorForTaskTypes.items():
            if name not in self.connectors:
                known = ", ".join(sorted(self.connectors)) or "none"
                raise ValueError(f"connectorForTaskTypes[{task_type}] names connector [{name}]; known: {known}")
        return self


class ClusterPluginConfig(Section):
    """The embedded Dask / Ray clusters (``plugins.dask``, ``plugins.ray``): local processes per attempt."""

    # Where cluster records and logs live ("" = <stack.dataDir>/propeller/clusters/<dask|ray>).
    cluster_dir: str = Field(default="", alias="cluster-dir")
    # Worker processes per cluster at most, whatever the spec asks (the machine is shared).
    max_workers: int = Field(default=4, alias="max-workers", ge=1)
    startup_timeout: Duration = Field(default="180s", alias="startup-timeout")  # type: ignore[assignment]
    kill_grace_period: Duration = Field(default="10s", alias="kill-grace-period")  # type: ignore[assignment]


class RayPluginConfig(ClusterPluginConfig):
    """``plugins.ray``: the embedded cluster's life after its job, as KubeRay's RayJob fields (Flyte's ray plugin
    config keys). A spec with ``shutdown_after_job_finishes`` brings its own TTL; else these apply."""

    shutdown_after_job_finishes: bool = Field(
        default=True,
        validation_alias=AliasChoices("shutdown-after-job-finishes", "shutdownAfterJobFinishes"),
    )
    # Seconds a finished cluster is kept (its logs, its dashboard) before it is stopped. Flyte's default is 3600 on
    # Kubernetes; an idle embedded cluster holds this machine's CPUs and memory, so the local default is 0.
    ttl_seconds_after_finished: int = Field(
        default=0, ge=0, validation_alias=AliasChoices("ttl-seconds-after-finished", "ttlSecondsAfterFinished")
    )
    # Aloft: the longest any finished cluster is kept locally, whatever the spec asks; also how long a cluster is
    # kept without shutdown-after-job-finishes (KubeRay would keep it until the RayJob is deleted).
    max_ttl_after_finished: Duration = Field(default="1h", alias="max-ttl-after-finished")  # type: ignore[assignment]


class PluginsConfig(Section):
    logs: LogsConfig = LogsConfig()
    local_process: LocalProcessConfig = Field(default_factory=LocalProcessConfig, alias="local-process")
    k8s: K8sPluginConfig = Field(default_factory=K8sPluginConfig)
    connector_service: ConnectorServiceConfig = Field(default_factory=ConnectorServiceConfig, alias="connector-service")
    agent_service: ConnectorServiceConfig = Field(default_factory=ConnectorServiceConfig, alias="agent-service")
    dask: ClusterPluginConfig = Field(default_factory=ClusterPluginConfig)
    ray: RayPluginConfig = Field(default_factory=RayPluginConfig)


class PropellerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    propeller: PropellerSection = PropellerSection()
    tasks: TasksConfig = TasksConfig()
    plugins: PluginsConfig = PluginsConfig()
    database: DatabaseConfig = DatabaseConfig()
    storage: StorageConfig = StorageConfig()
    logger: LoggerConfig = LoggerConfig()
    otel: OtelConfig = OtelConfig()
    stack: StackConfig = StackConfig()
    catalog_cache: CatalogCacheConfig = Field(default_factory=CatalogCacheConfig, alias="catalog-cache")
    resourcemanager: ResourceManagerConfig = ResourceManagerConfig()
    manager: ManagerConfig = ManagerConfig()  # read by `aloft-propeller manager`
    auth: AuthConfig = AuthConfig()  # with auth.enabled: calls carry auth.internal tokens, DataPlaneService checks them

    @model_validator(mode="after")
    def _quota_fits_the_resource_manager(self) -> PropellerConfig:
        # Checked here too (not only when the plugin registers its pool) so check-config catches it.
        quota, limit = self.plugins.local_process.resource_quota, self.resourcemanager.resourceMaxQuota
        if quota > limit:
            raise ValueError(
                f"plugins.local-process.resource-quota {quota} exceeds resourcemanager.resourceMaxQuota {limit}"
            )
        return self

    def effective_database(self) -> DatabaseConfig:
        return self.propeller.database or self.database
