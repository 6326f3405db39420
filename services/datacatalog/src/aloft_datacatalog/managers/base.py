"""What every manager is built from: repositories, a clock, config."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from aloft_datacatalog.repositories.base import Repositories
from aloft_datacatalog.repositories.keys import DatasetKey
from aloft_datacatalog.repositories.models import DatasetRow
from aloft_service.errors import NotFound

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


async def require_dataset(repos: Repositories, key: DatasetKey) -> DatasetRow:
    dataset = await repos.datasets.get(key)
    if dataset is None:
        raise NotFound(f"dataset {key} not found")
    return dataset
