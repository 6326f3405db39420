"""Fixtures for datacatalog tests: the real service over gRPC on SQLite and PostgreSQL.

``catalog`` starts datacatalog (gRPC + HTTP on free ports) against a fresh database on each backend (``db_url`` is
parametrized over SQLite and PostgreSQL) and a local blob store under ``tmp_path``. ``start_catalog`` does the same
with overrides of the ``datacatalog`` config section (e.g. a short ``max-reservation-heartbeat``) and optionally
another ``storage`` section. Each test's database starts as a copy of one migrated once per session
(``db_template``); the service's own migration run then finds it at head.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from flyteidl.core import literals_pb2
from flyteidl.datacatalog import datacatalog_pb2 as dc
from flyteidl.datacatalog import datacatalog_pb2_grpc

from aloft_datacatalog.config import DatacatalogConfig
from aloft_datacatalog.server import (
    MIGRATIONS,
    VERSION_TABLE,
    DatacatalogDeps,
    build_deps,
    build_service,
    run_migrations,
)
from aloft_db.migrations import migrate
from aloft_service.runtime import ListenConfig, RunningService, start_service
from aloft_testing.databases import DbTemplate

pytest_plugins = ["aloft_testing.fixtures"]

# Datacatalog's schema: its migrations applied to a template database once per session and backend.
DATACATALOG_SCHEMA = DbTemplate("datacatalog", lambda url: migrate(MIGRATIONS, url, VERSION_TABLE))


@pytest.fixture
def db_template() -> DbTemplate | None:
    return DATACATALOG_SCHEMA


@dataclass
class CatalogHandle:
    config: DatacatalogConfig
    deps: DatacatalogDeps
    running: RunningService
    channel: grpc.aio.Channel
    stub: Any  # DataCatalogStub

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.running.grpc_port}"

    @property
    def blob_root(self) -> Path:
        return Path(self.deps.blobs.base_uri.removeprefix("file://"))


StartCatalog = Callable[..., Awaitable[CatalogHandle]]


@pytest.fixture
async def start_catalog(tmp_path: Path, db_url: str) -> AsyncIterator[StartCatalog]:
    started: list[CatalogHandle] = []

    async def start(storage: dict[str, Any] | None = None, **section: Any) -> CatalogHandle:
        config = DatacatalogConfig.model_validate(
            {
                "stack": {"dataDir": str(tmp_path / "data")},
                "database": {"url": db_url},
                "storage": storage or {},
                "datacatalog": {"grpcPort": 0, "httpPort": 0, **section},
            }
        )
        run_migrations(config)
        deps = build_deps(config)
        running = await start_service(build_service(deps), ListenConfig(host="127.0.0.1"))
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.grpc_port}")
        handle = CatalogHandle(config, deps, running, channel, datacatalog_pb2_grpc.DataCatalogStub(channel))
        started.append(handle)
        return handle

    yield start
    for handle in started:
        await handle.channel.close()
        await handle.running.stop(grace=0.5)


@pytest.fixture
async def catalog(start_catalog: StartCatalog) -> CatalogHandle:
    return await start_catalog()


@pytest.fixture
def stub(catalog: CatalogHandle) -> Any:
    return catalog.stub


def literal_int(value: int) -> literals_pb2.Literal:
    return literals_pb2.Literal(
        scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=value)),
    )


class Factory:
    """Builds datacatalog messages for tests."""

    @staticmethod
    def dataset_id(name: str = "flyte_task-wf.t1", version: str = "1.0-abc", **kw: str) -> dc.DatasetID:
        return dc.DatasetID(
            project=kw.get("project", "flytesnacks"), domain=kw.get("domain", "development"), name=name, version=version
        )

    @staticmethod
    def data(**values: int) -> list[dc.ArtifactData]:
        return [dc.ArtifactData(name=name, value=literal_int(v)) for name, v in values.items()]

    @staticmethod
    def artifact(
        dataset_id: dc.DatasetID,
        artifact_id: str,
        partitions: dict[str, str] | None = None,
        **values: int,
    ) -> dc.Artifact:
        return dc.Artifact(
            id=artifact_id,
            dataset=dataset_id,
            data=Factory.data(**(values or {"o0": 1})),
            partitions=[dc.Partition(key=k, value=v) for k, v in (partitions or {}).items()],
            metadata=dc.Metadata(key_map={"execution": artifact_id}),
        )


@pytest.fixture
def make() -> type[Factory]:
    return Factory
