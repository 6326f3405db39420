"""Shared fixtures for admin tests (shared by several authors: add fixtures with targeted edits only).

``admin_server`` runs the real admin service (gRPC + HTTP) on free ports against a fresh database on each backend
(``db_url`` is parametrized over SQLite and PostgreSQL) and a local blob store under ``tmp_path``. Each test's
database starts as a copy of one migrated once per session (``db_template``); admin's own migration run on start
then finds it at head. Tests of the migrations themselves override ``db_template`` with None (an empty database).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from flyteidl.service import admin_pb2_grpc, dataproxy_pb2_grpc, signal_pb2_grpc

from aloft_admin.config import AdminConfig
from aloft_admin.deps import AdminDeps
from aloft_admin.server import MIGRATIONS, VERSION_TABLE, bind_http_port, build_deps, build_service, run_migrations
from aloft_db.migrations import migrate
from aloft_service.runtime import ListenConfig, RunningService, start_service
from aloft_testing.databases import DbTemplate

pytest_plugins = ["aloft_testing.fixtures"]


# Admin's schema: its migrations applied to a template database once per session and backend.
ADMIN_SCHEMA = DbTemplate("admin", lambda url: migrate(MIGRATIONS, url, VERSION_TABLE))


@pytest.fixture
def db_template() -> DbTemplate | None:
    return ADMIN_SCHEMA


@dataclass
class AdminHandle:
    config: AdminConfig
    deps: AdminDeps
    running: RunningService
    channel: grpc.aio.Channel
    admin: Any  # AdminServiceStub
    dataproxy: Any  # DataProxyServiceStub
    signals: Any  # SignalServiceStub

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.running.grpc_port}"

    @property
    def http_base(self) -> str:
        return f"http://127.0.0.1:{self.running.http_port}"


def admin_config(tmp_path: Path, db_url: str, **admin_overrides: Any) -> AdminConfig:
    return AdminConfig.model_validate(
        {
            "stack": {"dataDir": str(tmp_path / "data")},
            "database": {"url": db_url},
            "admin": {"grpcPort": 0, "httpPort": 0, **admin_overrides},
        }
    )


@pytest.fixture
async def admin_server(tmp_path: Path, db_url: str) -> AsyncIterator[AdminHandle]:
    config = admin_config(tmp_path, db_url)
    run_migrations(config)
    deps = build_deps(config)
    running = await start_service(build_service(deps), ListenConfig(host="127.0.0.1"))
    bind_http_port(deps, running.http_port)  # signed blob URLs must name the port actually bound
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.grpc_port}")
    try:
        yield AdminHandle(
            config=config,
            deps=deps,
            running=running,
            channel=channel,
            admin=admin_pb2_grpc.AdminServiceStub(channel),
            dataproxy=dataproxy_pb2_grpc.DataProxyServiceStub(channel),
            signals=signal_pb2_grpc.SignalServiceStub(channel),
        )
    finally:
        await channel.close()
        await running.stop(grace=0.5)


@pytest.fixture
def admin_stub(admin_server: AdminHandle) -> Any:
    return admin_server.admin
