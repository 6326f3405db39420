"""propeller workflow store

Revision ID: propeller_0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "propeller_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "propeller_workflows",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("project", sa.String(255), nullable=False),
        sa.Column("domain", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("shard_key", sa.String(64), nullable=False),
        sa.Column("cluster", sa.String(255), nullable=False),
        sa.Column("spec", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.LargeBinary(), nullable=False),
        sa.Column("resource_version", sa.BigInteger(), nullable=False),
        sa.Column("terminal", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ux_propeller_workflows_key", "propeller_workflows", ["project", "domain", "name"], unique=True)
    op.create_index("ix_propeller_workflows_terminal", "propeller_workflows", ["terminal"])


def downgrade() -> None:
    op.drop_table("propeller_workflows")
