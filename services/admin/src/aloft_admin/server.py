"""Assemble admin: config → deps → servicers → gRPC + HTTP, with health, reflection, metrics and tracing."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import grpc
from aloft.events.v1 import events_pb2, events_pb2_grpc
from aloft_auth.audit import AuditLog
from aloft_auth.enforce import AuthInterceptor
from aloft_auth.mtls import server_credentials
from flyteidl.service import (
    admin_pb2,
    admin_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    dataproxy_pb2,
    dataproxy_pb2_grpc,
    identity_pb2,
    identity_pb2_grpc,
    signal_pb2,
    signal_pb2_grpc,
)

from aloft_admin.api.admin_service import AdminServicer
from aloft_admin.api.auth import AuthMetadataServicer, IdentityServicer
from aloft_admin.api.config_audit import audit_configuration_changes
from aloft_admin.api.dataproxy import DataProxyServicer
from aloft_admin.api.event_batches import EventBatchServicer
from aloft_admin.api.project_visibility import restrict_project_listing
from aloft_admin.api.signals import SignalServicer
from aloft_admin.auth.setup import build_admin_auth
from aloft_admin.config import AdminConfig
from aloft_admin.deps import AdminDeps
from aloft_admin.integrations.dataplane import build_dataplane_client
from aloft_admin.integrations.dispatch import build_egress_workers
from aloft_admin.integrations.egress import build_event_egress
from aloft_admin.managers.registry import build_managers
from aloft_db import create_database, migrate
from aloft_service.runtime import Service
from aloft_storage import create_blob_store

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version_admin"

SERVICE_NAMES = [
    admin_pb2.DESCRIPTOR.services_by_name["AdminService"].full_name,
    dataproxy_pb2.DESCRIPTOR.services_by_name["DataProxyService"].full_name,
    signal_pb2.DESCRIPTOR.services_by_name["SignalService"].full_name,
    auth_pb2.DESCRIPTOR.services_by_name["AuthMetadataService"].full_name,
    identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name,
    events_pb2.DESCRIPTOR.services_by_name["EventService"].full_name,
]


@dataclass
class Servicers:
    admin: AdminServicer
    dataproxy: DataProxyServicer
    signals: SignalServicer
    auth: AuthMetadataServicer
    identity: IdentityServicer
    event_batches: EventBatchServicer

    def registrations(self) -> list[object]:
        def register(server: grpc.aio.Server) -> None:
            admin_pb2_grpc.add_AdminServiceServicer_to_server(self.admin, server)
            dataproxy_pb2_grpc.add_DataProxyServiceServicer_to_server(self.dataproxy, server)
            signal_pb2_grpc.add_SignalServiceServicer_to_server(self.signals, server)
            auth_pb2_grpc.add_AuthMetadataServiceServicer_to_server(self.auth, server)
            identity_pb2_grpc.add_IdentityServiceServicer_to_server(self.identity, server)
            events_pb2_grpc.add_EventServiceServicer_to_server(self.event_batches, server)

        return [register]


def build_deps(config: AdminConfig) -> AdminDeps:
    data_dir = config.stack.data_path()
    db = create_database(config.effective_database(), data_dir / "admin.db")
    blobs = create_blob_store(config.storage, base_dir=data_dir)
    deps = AdminDeps(
        config=config,
        db=db,
        blobs=blobs,
        dataplanes=build_dataplane_client(config),
        auth=build_admin_auth(config.auth, data_dir, _cors_origins(config)),
    )
    deps.egress = build_event_egress(config, deps.clock)
    if config.admin.httpPort:
        bind_http_port(deps, config.admin.httpPort)
    return deps


def _cors_origins(config: AdminConfig) -> tuple[str, ...]:
    """Other origins whose pages may make state-changing calls with a browser session (their CSRF token still
    required): the CORS origins, except ``*``."""
    cors = config.cors()
    return tuple(o for o in cors.origins if o != "*") if cors.allowed else ()


def bind_http_port(deps: AdminDeps, http_port: int) -> None:
    """Point the local blob store's signed URLs at this admin's HTTP port (unless storage.signedUrl.baseUrl is set).

    Call it again with the bound port when admin listens on port 0 (tests do, after start_service).
    """
    from aloft_admin.gateway.blobs import BLOB_ROUTE_PREFIX, bind_signed_url_base

    if "baseUrl" in deps.config.storage.signedUrl.model_fields_set:
        return
    host = deps.config.admin.host
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    scheme = "https" if deps.config.server.security.secure else "http"
    bind_signed_url_base(deps.blobs, f"{scheme}://{host}:{http_port}{BLOB_ROUTE_PREFIX}")


def run_migrations(config: AdminConfig) -> None:
    db_config = config.effective_database()
    migrate(MIGRATIONS, db_config.sync_url(config.stack.data_path() / "admin.db"), VERSION_TABLE)


def build_service(deps: AdminDeps) -> Service:
    from aloft_admin.gateway.app import build_http_app
    from aloft_admin.managers.executions_handoff import RepairLoop
    from aloft_admin.managers.seed import seed_defaults

    managers = build_managers(deps)
    servicers = Servicers(
        admin=AdminServicer(managers),
        dataproxy=DataProxyServicer(managers),
        signals=SignalServicer(managers),
        auth=AuthMetadataServicer(
            deps.config.admin, deps.config.auth, deps.auth, https=deps.config.server.security.secure
        ),
        identity=IdentityServicer(),
        event_batches=EventBatchServicer(managers),
    )
    audit_configuration_changes(servicers.admin, deps.auth.audit if deps.auth is not None else AuditLog())

    if deps.auth is not None:
        restrict_project_listing(servicers.admin, deps.auth.guard.authorizer)

    mutual_tls = deps.config.auth.mutualTls
    # Retries data-plane hand-offs and aborts that did not get through (executions area).
    repair = RepairLoop(managers.handoffs, deps.db, deps.config.admin.handoffRepairInterval)
    egress = build_egress_workers(deps.config, deps.repos, deps.egress, deps.clock)

    async def on_start() -> None:
        await seed_defaults(deps.repos, managers.projects, deps.config.admin.seedProjects)
        repair.start()
        # Delivers the egress outbox (cloud events, notifications) when configured.
        egress.start()

    async def on_stop() -> None:
        await repair.stop()
        await deps.background.stop()  # what does not finish in time the repair loop redoes at the next start
        await egress.stop()
        await deps.dataplanes.close()
        await deps.db.dispose()

    return Service(
        name="admin",
        service_names=SERVICE_NAMES,
        registrations=servicers.registrations(),  # type: ignore[arg-type]
        http_app=build_http_app(deps, servicers),
        on_start=[on_start],
        on_stop=[on_stop],
        interceptors=[AuthInterceptor(deps.auth.guard)] if deps.auth is not None else [],
        grpc_credentials=server_credentials(mutual_tls, require_client_cert=mutual_tls.requireClientCertAtAdmin),
        http_tls=_http_tls(deps.config),
    )


def _http_tls(config: AdminConfig) -> tuple[str, str] | None:
    """Flyte's ``server.security.secure``: HTTPS on admin's HTTP port with ``ssl``'s certificate and key."""
    security = config.server.security
    return (security.ssl.certificateFile, security.ssl.keyFile) if security.secure else None
