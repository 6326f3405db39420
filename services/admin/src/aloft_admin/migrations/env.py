"""Alembic environment for admin. Revisions live in versions/ as independent branches per area
(``entities``, ``executions`` ...), so ``upgrade heads`` applies them all."""

from aloft_admin.repositories.models import all_metadata
from aloft_db.alembic_env import run

run(all_metadata())
