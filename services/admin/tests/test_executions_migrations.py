"""The executions migration branch creates its tables on a fresh SQLite file and a fresh PostgreSQL database."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect

from aloft_admin.server import MIGRATIONS, VERSION_TABLE
from aloft_db import migrate
from aloft_db.migrations import alembic_config


@pytest.fixture
def db_template() -> None:
    """Empty databases (not the suite's migrated copies): these tests run the migrations themselves."""
    return None


def test_executions_branch_creates_tables(db_url: str) -> None:
    migrate(MIGRATIONS, db_url, VERSION_TABLE)
    migrate(MIGRATIONS, db_url, VERSION_TABLE)  # idempotent: already at heads
    engine = create_engine(db_url)
    try:
        inspector = inspect(engine)
        tables = set(inspector.get_table_names())
        assert {"executions", "node_executions", "task_executions"} <= tables
        columns = {c["name"] for c in inspector.get_columns("executions")}
        assert {"org", "project", "domain", "name", "phase", "handoff", "version", "spec", "closure"} <= columns
        uniques = inspector.get_unique_constraints("task_executions")
        assert any("retry_attempt" in u["column_names"] for u in uniques)
    finally:
        engine.dispose()


def test_handoff_request_column_upgrades_and_downgrades(db_url: str) -> None:
    migrate(MIGRATIONS, db_url, VERSION_TABLE)
    engine = create_engine(db_url)

    def columns() -> set[str]:
        return {c["name"] for c in inspect(engine).get_columns("executions")}

    try:
        assert "handoff_request" in columns()
        command.downgrade(alembic_config(MIGRATIONS, db_url, VERSION_TABLE), "executions_0002")
        assert "handoff_request" not in columns() and "retry_at" in columns()
        migrate(MIGRATIONS, db_url, VERSION_TABLE)
        assert "handoff_request" in columns()
    finally:
        engine.dispose()
