"""Alembic environment for datacatalog (version table ``alembic_version_datacatalog``)."""

from aloft_datacatalog.repositories.models import all_metadata
from aloft_db.alembic_env import run

run(all_metadata())
