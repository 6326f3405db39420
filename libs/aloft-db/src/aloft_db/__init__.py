"""Database helpers shared by the services that own SQL state (admin, datacatalog, propeller's workflow store)."""

from aloft_db.config import DatabaseConfig, PostgresConfig, SqliteConfig
from aloft_db.engine import Database, create_database
from aloft_db.migrations import migrate

__all__ = ["Database", "DatabaseConfig", "PostgresConfig", "SqliteConfig", "create_database", "migrate"]
