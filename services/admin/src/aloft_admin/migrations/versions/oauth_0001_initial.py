"""oauth: authorization codes and refresh tokens of admin's own authorization server (hashed, single use).

Revision ID: oauth_0001
Revises:
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "oauth_0001"
down_revision = None
branch_labels = ("oauth",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oauth_grants",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_grants")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_oauth_grants_key_hash")),
    )
    op.create_index(op.f("ix_oauth_grants_expires_at"), "oauth_grants", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_table("oauth_grants")
