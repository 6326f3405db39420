"""Identity keys shared by repositories, managers and transformers."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DatasetKey:
    project: str
    name: str
    domain: str
    version: str
    org: str = ""

    def __str__(self) -> str:
        org = f"{self.org}/" if self.org else ""
        return f"{org}{self.project}/{self.domain}/{self.name}/{self.version}"


@dataclass(frozen=True)
class ReservationKey:
    dataset: DatasetKey
    tag_name: str


@dataclass(frozen=True)
class Page:
    """Offset pagination ordered by creation time (Flyte's only sort key), newest first unless ascending."""

    limit: int
    offset: int = 0
    ascending: bool = False


@dataclass(frozen=True)
class DatasetFilter:
    """Equality filters on dataset identity columns (column name → value)."""

    equals: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ArtifactFilter:
    """Equality filters, all of which must hold (Flyte ANDs the filters of one expression)."""

    partitions: tuple[tuple[str, str], ...] = ()
    tag_names: tuple[str, ...] = ()
    artifact_ids: tuple[str, ...] = ()
