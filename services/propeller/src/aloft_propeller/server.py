"""Assemble propeller: config → store, blobs, plugins, event sink → controller + DataPlaneService (gRPC) and
/metrics (HTTP), all in one process."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aloft.dataplane.v1 import dataplane_pb2, dataplane_pb2_grpc
from aloft_auth.client import outgoing_interceptors
from aloft_auth.enforce import resource_server_interceptors
from aloft_auth.mtls import server_credentials

from aloft_db import Database, create_database, migrate
from aloft_propeller.api.dataplane import DataPlaneServicer
from aloft_propeller.config import PropellerConfig
from aloft_propeller.controller.controller import Controller
from aloft_propeller.controller.round import RoundRunner
from aloft_propeller.events.sink import AdminEventSink, EventSink
from aloft_propeller.managers.executions import ExecutionManager
from aloft_propeller.nodes.context import PluginResolver
from aloft_propeller.nodes.registry import NodeHandlerRegistry, default_node_handlers
from aloft_propeller.recovery import AdminRecoverySource
from aloft_propeller.resourcemanager import ResourceManager, build_resource_manager
from aloft_propeller.sharding.strategy import build_shard_strategy
from aloft_propeller.store.cached import CachedWorkflowStore
from aloft_propeller.store.sql import SqlWorkflowStore
from aloft_propeller.workflow import WorkflowExecutor
from aloft_service.runtime import ListenConfig, Service
from aloft_storage import BlobStore, create_blob_store

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version_propeller"
SERVICE_NAME = dataplane_pb2.DESCRIPTOR.services_by_name["DataPlaneService"].full_name


def _sqlite_default(config: PropellerConfig) -> Path:
    return config.stack.data_path() / "propeller.db"


def run_migrations(config: PropellerConfig) -> None:
    _sqlite_default(config).parent.mkdir(parents=True, exist_ok=True)
    migrate(MIGRATIONS, config.effective_database().sync_url(_sqlite_default(config)), VERSION_TABLE)


@dataclass
class PropellerDeps:
    config: PropellerConfig
    db: Database
    blobs: BlobStore
    store: SqlWorkflowStore
    sink: EventSink
    controller: Controller
    manager: ExecutionManager
    resources: ResourceManager | None = None
    # Node handlers and the clients they own (datacatalog, admin launcher, signals): set up at start, closed at stop.
    handlers: NodeHandlerRegistry | None = None


def _default_plugins(config: PropellerConfig, blobs: BlobStore, resources: ResourceManager) -> PluginResolver:
    from aloft_propeller.plugins.registry import build_plugin_registry

    return build_plugin_registry(config, blobs, resources=resources)


def _async_plugin_closers(plugins: PluginResolver) -> list[Callable[[], Awaitable[None]]]:
    listing = getattr(plugins, "plugins", None)
    closers = []
    for plugin in listing() if callable(listing) else []:
        close = getattr(plugin, "close", None)
        if close is not None and inspect.iscoroutinefunction(close):
            closers.append(close)
    return closers


def build_deps(
    config: PropellerConfig,
    plugins: PluginResolver | None = None,
    sink: EventSink | None = None,
    blobs: BlobStore | None = None,
    resources: ResourceManager | None = None,
) -> PropellerDeps:
    """Wire everything; tests pass their own plugins (a scripted fake), event sink, blob store or resource
    manager (e.g. Redis under a per-test key prefix)."""
    db = create_database(config.effective_database(), _sqlite_default(config))
    blobs = blobs or create_blob_store(config.storage, base_dir=config.stack.data_path())
    resources = resources or build_resource_manager(config.resourcemanager)
    plugins = plugins or _default_plugins(config, blobs, resources)
    outgoing = outgoing_interceptors(config.auth)  # client-credentials tokens when auth is on
    sink = sink or AdminEventSink(config.propeller.adminEndpoint, interceptors=outgoing)
    store = SqlWorkflowStore(db)
    handlers = default_node_handlers(config.propeller.adminEndpoint, config)
    recovery = AdminRecoverySource(config.propeller.adminEndpoint, blobs, outgoing)
    handlers.closes(recovery.close)  # the executor's admin client, closed at stop with the handlers' clients
    for close in _async_plugin_closers(plugins):
        handlers.closes(close)  # plugins' own clients (connector channels), closed at stop too
    executor = WorkflowExecutor(config, blobs, plugins, handlers, store, resources, recovery)
    shard = build_shard_strategy(config.propeller.shard)
    runner = RoundRunner(CachedWorkflowStore(store), executor, sink, config.propeller.cluster_id)
    controller = Controller(config.propeller, store, runner, shard)
    controller.wake_on_process_exit(plugins)
    manager = ExecutionManager(store, config.propeller.cluster_id, controller.enqueue)
    return PropellerDeps(config, db, blobs, store, sink, controller, manager, resources, handlers)


def listen_config(config: PropellerConfig) -> ListenConfig:
    section = config.propeller
    return ListenConfig(host=section.host, grpcPort=section.grpcPort, httpPort=section.httpPort)


def build_service(deps: PropellerDeps) -> Service:
    servicer = DataPlaneServicer(deps.manager)

    def register(server: object) -> None:
        dataplane_pb2_grpc.add_DataPlaneServiceServicer_to_server(servicer, server)

    async def start_engine() -> None:
        if deps.handlers is not None:
            await deps.handlers.setup()
        await deps.controller.start()

    async def stop_engine() -> None:
        await deps.controller.stop()
        if deps.handlers is not None:
            await deps.handlers.close()
        await deps.sink.close()
        if deps.resources is not None:
            await deps.resources.close()
        await deps.db.dispose()

    return Service(
        name="propeller",
        service_names=[SERVICE_NAME],
        registrations=[register],  # type: ignore[list-item]
        on_start=[start_engine],
        on_stop=[stop_engine],
        # With auth on, DataPlaneService refuses calls without a valid token (admin sends its client-credentials one).
        interceptors=resource_server_interceptors(deps.config.auth),
        grpc_credentials=server_credentials(deps.config.auth.mutualTls),
    )
