"""Rows for datasets, artifacts (with their data locations and partitions), tags and reservations.

Shape follows Flyte's datacatalog models: identity columns are real columns with unique constraints; metadata is
serialized ``datacatalog.Metadata`` bytes; artifact data values live in the blob store and rows keep only their
location. Reservations are keyed by dataset identity + tag name and have no foreign key: a reservation may be taken
before its dataset exists (propeller reserves before it computes the outputs).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_NAME = 255
_ID = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class DatasetRow(Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("project", "name", "domain", "version", "org"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    project: Mapped[str] = mapped_column(String(_NAME))
    name: Mapped[str] = mapped_column(String(_NAME))
    domain: Mapped[str] = mapped_column(String(_NAME))
    version: Mapped[str] = mapped_column(String(_NAME))
    org: Mapped[str] = mapped_column(String(_NAME), default="")
    serialized_metadata: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)

    partition_keys: Mapped[list[PartitionKeyRow]] = relationship(
        order_by="PartitionKeyRow.position", lazy="raise", cascade="all, delete-orphan"
    )


class PartitionKeyRow(Base):
    __tablename__ = "dataset_partition_keys"

    dataset_id: Mapped[int] = mapped_column(_ID, ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(_NAME), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)


class ArtifactRow(Base):
    __tablename__ = "artifacts"
    __table_args__ = (
        UniqueConstraint("dataset_id", "artifact_id"),
        Index("ix_artifacts_dataset_id_created_at", "dataset_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    dataset_id: Mapped[int] = mapped_column(_ID, ForeignKey("datasets.id", ondelete="CASCADE"))
    artifact_id: Mapped[str] = mapped_column(String(_NAME))
    serialized_metadata: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    dataset: Mapped[DatasetRow] = relationship(lazy="joined", innerjoin=True)
    # Collections load only when a query asks for them (see repositories/sql/artifacts.py), never lazily.
    data: Mapped[list[ArtifactDataRow]] = relationship(
        order_by="ArtifactDataRow.position", lazy="raise", cascade="all, delete-orphan"
    )
    partitions: Mapped[list[PartitionRow]] = relationship(
        order_by="PartitionRow.key", lazy="raise", cascade="all, delete-orphan"
    )
    tags: Mapped[list[TagRow]] = relationship(order_by="TagRow.tag_name", lazy="raise", viewonly=True)


class ArtifactDataRow(Base):
    __tablename__ = "artifact_data"

    artifact_pk: Mapped[int] = mapped_column(_ID, ForeignKey("artifacts.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(_NAME), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    location: Mapped[str] = mapped_column(Text)


class PartitionRow(Base):
    __tablename__ = "partitions"
    __table_args__ = (Index("ix_partitions_key_value", "key", "value"),)

    artifact_pk: Mapped[int] = mapped_column(_ID, ForeignKey("artifacts.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(_NAME), primary_key=True)
    value: Mapped[str] = mapped_column(String(_NAME))


class TagRow(Base):
    __tablename__ = "tags"

    dataset_id: Mapped[int] = mapped_column(_ID, ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    tag_name: Mapped[str] = mapped_column(String(_NAME), primary_key=True)
    artifact_pk: Mapped[int] = mapped_column(_ID, ForeignKey("artifacts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReservationRow(Base):
    __tablename__ = "reservations"

    project: Mapped[str] = mapped_column(String(_NAME), primary_key=True)
    name: Mapped[str] = mapped_column(String(_NAME), primary_key=True)
    domain: Mapped[str] = mapped_column(String(_NAME), primary_key=True)
    version: Mapped[str] = mapped_column(String(_NAME), primary_key=True)
    org: Mapped[str] = mapped_column(String(_NAME), primary_key=True)
    tag_name: Mapped[str] = mapped_column(String(_NAME), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(_NAME))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    serialized_metadata: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def all_metadata() -> MetaData:
    return Base.metadata
