"""Assemble datacatalog: config → database, blob store, managers → gRPC + HTTP (health, reflection, metrics, traces)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc
from aloft_auth.enforce import resource_server_interceptors
from aloft_auth.mtls import server_credentials
from flyteidl.datacatalog import datacatalog_pb2, datacatalog_pb2_grpc

from aloft_datacatalog.api.datacatalog import DataCatalogServicer, Managers
from aloft_datacatalog.config import DatacatalogConfig
from aloft_datacatalog.managers.artifacts import ArtifactManager
from aloft_datacatalog.managers.data_store import ArtifactDataStore
from aloft_datacatalog.managers.datasets import DatasetManager
from aloft_datacatalog.managers.reservations import ReservationManager
from aloft_datacatalog.managers.tags import TagManager
from aloft_datacatalog.repositories.sql import SqlRepositories
from aloft_db import Database, create_database, migrate
from aloft_service.runtime import Service
from aloft_storage import BlobStore, create_blob_store

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version_datacatalog"
SQLITE_FILE = "datacatalog.db"
SERVICE_NAME = datacatalog_pb2.DESCRIPTOR.services_by_name["DataCatalog"].full_name


@dataclass
class DatacatalogDeps:
    config: DatacatalogConfig
    db: Database
    blobs: BlobStore


def build_deps(config: DatacatalogConfig) -> DatacatalogDeps:
    data_dir = config.stack.data_path()
    db = create_database(config.effective_database(), data_dir / SQLITE_FILE)
    return DatacatalogDeps(config=config, db=db, blobs=create_blob_store(config.storage, base_dir=data_dir))


def run_migrations(config: DatacatalogConfig) -> None:
    data_dir = config.stack.data_path()
    sync_url = config.effective_database().sync_url(data_dir / SQLITE_FILE)
    if sync_url.startswith("sqlite:"):
        data_dir.mkdir(parents=True, exist_ok=True)  # the default SQLite file lives there
    migrate(MIGRATIONS, sync_url, VERSION_TABLE)


def build_managers(deps: DatacatalogDeps) -> Managers:
    section = deps.config.datacatalog
    repos = SqlRepositories(deps.db)
    data = ArtifactDataStore(deps.blobs, section.storage_prefix)
    return Managers(
        datasets=DatasetManager(repos, section.default_page_limit),
        artifacts=ArtifactManager(repos, data, section.default_page_limit),
        tags=TagManager(repos),
        reservations=ReservationManager(
            repos, section.max_reservation_heartbeat, section.heartbeat_grace_period_multiplier
        ),
    )


def build_service(deps: DatacatalogDeps) -> Service:
    servicer = DataCatalogServicer(build_managers(deps))

    def register(server: grpc.aio.Server) -> None:
        datacatalog_pb2_grpc.add_DataCatalogServicer_to_server(servicer, server)

    async def on_stop() -> None:
        await deps.db.dispose()

    return Service(
        name="datacatalog",
        service_names=[SERVICE_NAME],
        registrations=[register],
        on_stop=[on_stop],
        # With auth on, every DataCatalog RPC needs a valid token (propeller sends its client-credentials one).
        interceptors=resource_server_interceptors(deps.config.auth),
        grpc_credentials=server_credentials(deps.config.auth.mutualTls),
    )
