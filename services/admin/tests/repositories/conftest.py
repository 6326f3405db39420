"""Conformance of the repository Protocols (repositories/base.py) and their written invariants, run on SQLite and
PostgreSQL (``db_url`` is parametrized) against the SQL implementations, with explicit times (no clock, no sleep).
One file per Protocol; each transaction is its own ``async with repos.transaction()``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flyteidl.core import identifier_pb2

from aloft_admin.config import AdminConfig
from aloft_admin.repositories.models.executions import (
    ExecutionModel,
    NewExecution,
    NodeExecutionModel,
    TaskExecutionModel,
)
from aloft_admin.repositories.sql import SqlRepositories
from aloft_admin.server import run_migrations
from aloft_db import create_database

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def repos(tmp_path: Path, db_url: str) -> AsyncIterator[SqlRepositories]:
    config = AdminConfig.model_validate({"stack": {"dataDir": str(tmp_path)}, "database": {"url": db_url}})
    run_migrations(config)
    db = create_database(config.effective_database(), tmp_path / "admin.db")
    try:
        yield SqlRepositories(db)
    finally:
        await db.dispose()


def wid(name: str = "e1", project: str = "p", domain: str = "d") -> identifier_pb2.WorkflowExecutionIdentifier:
    return identifier_pb2.WorkflowExecutionIdentifier(project=project, domain=domain, name=name)


def nid(node_id: str = "n0", execution: str = "e1") -> identifier_pb2.NodeExecutionIdentifier:
    return identifier_pb2.NodeExecutionIdentifier(node_id=node_id, execution_id=wid(execution))


def tid(node_id: str = "n0", attempt: int = 0, execution: str = "e1") -> identifier_pb2.TaskExecutionIdentifier:
    task = identifier_pb2.Identifier(resource_type=identifier_pb2.TASK, project="p", domain="d", name="t", version="v")
    return identifier_pb2.TaskExecutionIdentifier(
        task_id=task, node_execution_id=nid(node_id, execution), retry_attempt=attempt
    )


def execution_row(name: str = "e1", created: datetime = T0, **columns: object) -> ExecutionModel:
    row = ExecutionModel(
        org="", project="p", domain="d", name=name, phase="UNDEFINED", spec=b"", closure=b"",
        execution_created_at=created, created_at=created, updated_at=created,
    )  # fmt: skip
    for column, value in columns.items():
        setattr(row, column, value)
    return row


def new_execution(name: str = "e1", created: datetime = T0, **columns: object) -> NewExecution:
    """``execution_row``'s values as a new row for ``insert_executions``."""
    values: dict[str, object] = {
        "org": "", "project": "p", "domain": "d", "name": name, "phase": "UNDEFINED", "spec": b"", "closure": b"",
        "execution_created_at": created, "created_at": created, "updated_at": created,
    }  # fmt: skip
    return NewExecution({**values, **columns})


def node_row(node_id: str = "n0", execution: str = "e1", **columns: object) -> NodeExecutionModel:
    row = NodeExecutionModel(
        execution_org="", execution_project="p", execution_domain="d", execution_name=execution, node_id=node_id,
        phase="UNDEFINED", closure=b"", metadata_=b"", created_at=T0, updated_at=T0,
    )  # fmt: skip
    for column, value in columns.items():
        setattr(row, column, value)
    return row


def task_row(node_id: str = "n0", attempt: int = 0, execution: str = "e1") -> TaskExecutionModel:
    return TaskExecutionModel(
        execution_org="", execution_project="p", execution_domain="d", execution_name=execution, node_id=node_id,
        task_project="p", task_domain="d", task_name="t", task_version="v", retry_attempt=attempt,
        phase="UNDEFINED", closure=b"", created_at=T0, updated_at=T0,
    )  # fmt: skip


def later(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)
