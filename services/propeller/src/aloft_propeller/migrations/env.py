"""Alembic environment for propeller's workflow store (version table ``alembic_version_propeller``)."""

from aloft_db.alembic_env import run
from aloft_propeller.store.models import Base

run(Base.metadata)
