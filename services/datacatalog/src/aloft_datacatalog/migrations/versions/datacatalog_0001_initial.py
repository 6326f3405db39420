"""datacatalog: datasets, artifacts, artifact data locations, partitions, tags, reservations.

Revision ID: datacatalog_0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = 'datacatalog_0001'
down_revision = None
branch_labels = ('datacatalog',)
depends_on = None


def upgrade() -> None:
    op.create_table('datasets',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('project', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('domain', sa.String(length=255), nullable=False),
    sa.Column('version', sa.String(length=255), nullable=False),
    sa.Column('org', sa.String(length=255), nullable=False),
    sa.Column('serialized_metadata', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_datasets')),
    sa.UniqueConstraint('project', 'name', 'domain', 'version', 'org', name=op.f('uq_datasets_project_name_domain_version_org')),
    sa.UniqueConstraint('uuid', name=op.f('uq_datasets_uuid'))
    )
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_datasets_created_at'), ['created_at'], unique=False)

    op.create_table('reservations',
    sa.Column('project', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('domain', sa.String(length=255), nullable=False),
    sa.Column('version', sa.String(length=255), nullable=False),
    sa.Column('org', sa.String(length=255), nullable=False),
    sa.Column('tag_name', sa.String(length=255), nullable=False),
    sa.Column('owner_id', sa.String(length=255), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('serialized_metadata', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('project', 'name', 'domain', 'version', 'org', 'tag_name', name=op.f('pk_reservations'))
    )
    op.create_table('artifacts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('dataset_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('artifact_id', sa.String(length=255), nullable=False),
    sa.Column('serialized_metadata', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_artifacts_dataset_id_datasets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_artifacts')),
    sa.UniqueConstraint('dataset_id', 'artifact_id', name=op.f('uq_artifacts_dataset_id_artifact_id'))
    )
    with op.batch_alter_table('artifacts', schema=None) as batch_op:
        batch_op.create_index('ix_artifacts_dataset_id_created_at', ['dataset_id', 'created_at'], unique=False)

    op.create_table('dataset_partition_keys',
    sa.Column('dataset_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_dataset_partition_keys_dataset_id_datasets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dataset_id', 'name', name=op.f('pk_dataset_partition_keys'))
    )
    op.create_table('artifact_data',
    sa.Column('artifact_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('location', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['artifact_pk'], ['artifacts.id'], name=op.f('fk_artifact_data_artifact_pk_artifacts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('artifact_pk', 'name', name=op.f('pk_artifact_data'))
    )
    op.create_table('partitions',
    sa.Column('artifact_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['artifact_pk'], ['artifacts.id'], name=op.f('fk_partitions_artifact_pk_artifacts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('artifact_pk', 'key', name=op.f('pk_partitions'))
    )
    with op.batch_alter_table('partitions', schema=None) as batch_op:
        batch_op.create_index('ix_partitions_key_value', ['key', 'value'], unique=False)

    op.create_table('tags',
    sa.Column('dataset_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tag_name', sa.String(length=255), nullable=False),
    sa.Column('artifact_pk', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['artifact_pk'], ['artifacts.id'], name=op.f('fk_tags_artifact_pk_artifacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_tags_dataset_id_datasets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dataset_id', 'tag_name', name=op.f('pk_tags'))
    )
    with op.batch_alter_table('tags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tags_artifact_pk'), ['artifact_pk'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('tags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tags_artifact_pk'))

    op.drop_table('tags')
    with op.batch_alter_table('partitions', schema=None) as batch_op:
        batch_op.drop_index('ix_partitions_key_value')

    op.drop_table('partitions')
    op.drop_table('artifact_data')
    op.drop_table('dataset_partition_keys')
    with op.batch_alter_table('artifacts', schema=None) as batch_op:
        batch_op.drop_index('ix_artifacts_dataset_id_created_at')

    op.drop_table('artifacts')
    op.drop_table('reservations')
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_datasets_created_at'))

    op.drop_table('datasets')
