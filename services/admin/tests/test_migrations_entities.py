"""The ``entities`` migration branch creates its tables on a fresh SQLite file and a fresh PostgreSQL database."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect

from aloft_admin.server import MIGRATIONS, VERSION_TABLE
from aloft_db import migrate


@pytest.fixture
def db_template() -> None:
    """Empty databases (not the suite's migrated copies): these tests run the migrations themselves."""
    return None


ENTITY_TABLES = {
    "projects",
    "tasks",
    "workflows",
    "launch_plans",
    "named_entity_metadata",
    "description_entities",
    "resources",
}


def test_entities_branch_creates_tables_and_is_idempotent(db_url: str) -> None:
    migrate(MIGRATIONS, db_url, VERSION_TABLE)
    migrate(MIGRATIONS, db_url, VERSION_TABLE)  # already at heads: a no-op
    engine = create_engine(db_url)
    try:
        inspector = inspect(engine)
        assert set(inspector.get_table_names()) >= ENTITY_TABLES
        unique = {tuple(c["column_names"]) for c in inspector.get_unique_constraints("tasks")}
        assert ("project", "domain", "name", "version", "org") in unique
    finally:
        engine.dispose()
