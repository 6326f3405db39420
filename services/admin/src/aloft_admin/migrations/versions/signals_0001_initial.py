"""signals: gate-node signals keyed by (execution, signal id).

Revision ID: signals_0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "signals_0001"
down_revision = None
branch_labels = ("signals",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("execution_project", sa.String(length=255), nullable=False),
        sa.Column("execution_domain", sa.String(length=255), nullable=False),
        sa.Column("execution_name", sa.String(length=255), nullable=False),
        sa.Column("execution_org", sa.String(length=255), nullable=False),
        sa.Column("signal_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.LargeBinary(), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signals")),
        sa.UniqueConstraint(
            "execution_project",
            "execution_domain",
            "execution_name",
            "execution_org",
            "signal_id",
            name="uq_signals_key",
        ),
    )
    op.create_index(op.f("ix_signals_created_at"), "signals", ["created_at"], unique=False)
    op.create_index(op.f("ix_signals_execution_project"), "signals", ["execution_project"], unique=False)
    op.create_index(op.f("ix_signals_execution_domain"), "signals", ["execution_domain"], unique=False)
    op.create_index(op.f("ix_signals_execution_name"), "signals", ["execution_name"], unique=False)


def downgrade() -> None:
    op.drop_table("signals")
