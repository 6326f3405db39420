"""The ``database`` section, in Flyte's shape (``postgres:`` or ``sqlite:``), plus a ``url`` shortcut."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from pydantic import Field, model_validator

from aloft_config import Section


class PostgresConfig(Section):
    host: str = "127.0.0.1"
    port: int = 5432
    dbname: str = "aloft"
    username: str = "postgres"
    password: str = ""
    passwordPath: str = ""
    options: str = ""


class SqliteConfig(Section):
    file: str = ""


class DatabaseConfig(Section):
    """Exactly one of ``url``, ``postgres`` or ``sqlite``; none means SQLite in the service's data directory."""

    url: str = ""
    postgres: PostgresConfig | None = None
    sqlite: SqliteConfig | None = None
    maxOpenConnections: int = Field(default=20, ge=1)
    # Connections kept open between uses (at most maxOpenConnections); more are opened when busy and closed again.
    # Flyte's default, up from 5: propeller's workers and data-plane RPCs ran more than 5 transactions at once, so a
    # connection was opened and closed per burst (costlier than the transaction it served). Not maxOpenConnections:
    # a pool keeps its process's peak for good, and each shard, admin and datacatalog have a pool of their own
    # (benchmarks/README.md, issue 14, pgpool: 20 of each exhausted PostgreSQL's 100 connections on one machine).
    maxIdleConnections: int = Field(default=10, ge=0)
    connMaxLifeTime: str = "1h"
    debug: bool = False

    @model_validator(mode="after")
    def _one_backend(self) -> DatabaseConfig:
        chosen = [n for n, v in (("url", self.url), ("postgres", self.postgres), ("sqlite", self.sqlite)) if v]
        if len(chosen) > 1:
            raise ValueError(f"set only one of url, postgres, sqlite (got {', '.join(chosen)})")
        return self

    @property
    def pool_size(self) -> int:
        """Connections the pool keeps (SQLAlchemy's ``pool_size``): maxIdleConnections, capped at maxOpenConnections as
        Go's database/sql caps it, and at least one (SQLAlchemy's pool keeps none only when it is a NullPool)."""
        return max(min(self.maxIdleConnections, self.maxOpenConnections), 1)

    @property
    def max_overflow(self) -> int:
        """Connections opened beyond ``pool_size`` when busy, closed again when returned."""
        return self.maxOpenConnections - self.pool_size

    def sync_url(self, default_sqlite_file: Path) -> str:
        """SQLAlchemy URL for synchronous use (Alembic)."""
        if self.url:
            return self.url.replace("+aiosqlite", "").replace("+asyncpg", "+psycopg")
        if self.postgres is not None:
            pg = self.postgres
            password = pg.password
            if pg.passwordPath:
                password = Path(pg.passwordPath).read_text().strip()
            auth = quote(pg.username) + (f":{quote(password)}" if password else "")
            options = f"?{pg.options.replace(' ', '&')}" if pg.options else ""
            return f"postgresql+psycopg://{auth}@{pg.host}:{pg.port}/{pg.dbname}{options}"
        file = Path(self.sqlite.file) if self.sqlite and self.sqlite.file else default_sqlite_file
        return f"sqlite:///{file}"

    def async_url(self, default_sqlite_file: Path) -> str:
        url = self.sync_url(default_sqlite_file)
        if url.startswith("sqlite:"):
            return url.replace("sqlite:", "sqlite+aiosqlite:", 1)
        if url.startswith("postgresql:"):
            return url.replace("postgresql:", "postgresql+psycopg:", 1)
        return url
