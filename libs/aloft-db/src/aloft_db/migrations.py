"""Run a service's Alembic migrations programmatically (each service keeps its own version table)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url


def alembic_config(script_location: Path, sync_url: str, version_table: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", sync_url.replace("%", "%%"))
    cfg.attributes["version_table"] = version_table
    return cfg


def migrate(script_location: Path, sync_url: str, version_table: str, revision: str = "heads") -> None:
    """Upgrade the database to ``revision`` (all branch heads by default).

    A SQLite file's directory is created first: on a fresh data dir, migrations run before anything else.
    """
    url = make_url(sync_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(script_location, sync_url, version_table), revision)
