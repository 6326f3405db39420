"""Database helpers shared by the services that own SQL state (admin, datacatalog, propeller's workflow store)."""

from aloft_db.config import DatabaseConfig, PostgresConfig, SqliteConfig
from aloft_db.engine import Database, create_database
from aloft_db.migrations import migrate
from aloft_db.reads import PreparedRead

__all__ = ["Database", "DatabaseConfig", "PostgresConfig", "PreparedRead", "SqliteConfig", "create_database", "migrate"]
