"""Use cases for artifacts: create, get (by id or tag), list, update; data values live in the blob store.

Ordering for "nothing half-written": rows are inserted (and duplicates rejected) before any blob is written, and
the transaction commits only after every blob is stored. A failure after a blob write leaves at most an orphaned
blob that no row points at.
"""

from __future__ import annotations

import asyncio

from flyteidl.datacatalog import datacatalog_pb2 as dc

from aloft_datacatalog.managers.base import Clock, require_dataset, utc_now
from aloft_datacatalog.managers.data_store import ArtifactDataStore
from aloft_datacatalog.repositories.base import Repositories, RepositoryProvider
from aloft_datacatalog.repositories.keys import DatasetKey
from aloft_datacatalog.repositories.models import ArtifactDataRow, ArtifactRow
from aloft_datacatalog.transformers.artifacts import data_rows, new_artifact_row, to_artifact
from aloft_datacatalog.transformers.datasets import dataset_key
from aloft_datacatalog.validation.artifacts import (
    validate_create_artifact,
    validate_get_artifact,
    validate_partitions,
    validate_update_artifact,
)
from aloft_datacatalog.validation.listing import validate_list_artifacts
from aloft_service.errors import AlreadyExists, NotFound


async def find_artifact(
    repos: Repositories, key: DatasetKey, artifact_id: str | None, tag_name: str | None
) -> ArtifactRow:
    """The artifact named by id, or the one a tag points at, inside dataset ``key``."""
    if tag_name is not None:
        artifact = await repos.artifacts.get_by_tag(key, tag_name)
        if artifact is None:
            raise NotFound(f"no artifact tagged {tag_name!r} in dataset {key}")
        return artifact
    dataset = await require_dataset(repos, key)
    artifact = await repos.artifacts.get(dataset, artifact_id or "")
    if artifact is None:
        raise NotFound(f"artifact {artifact_id!r} not found in dataset {key}")
    return artifact


def _handle(request: dc.GetArtifactRequest | dc.UpdateArtifactRequest) -> tuple[str | None, str | None]:
    if request.WhichOneof("query_handle") == "tag_name":
        return None, request.tag_name
    return request.artifact_id, None


class ArtifactManager:
    def __init__(
        self, repos: RepositoryProvider, data: ArtifactDataStore, default_page_limit: int, clock: Clock = utc_now
    ) -> None:
        self._repos = repos
        self._data = data
        self._default_limit = default_page_limit
        self._clock = clock

    async def create(self, request: dc.CreateArtifactRequest) -> dc.CreateArtifactResponse:
        validate_create_artifact(request)
        artifact = request.artifact
        key = dataset_key(artifact.dataset)
        async with self._repos.transaction() as repos:
            dataset = await require_dataset(repos, key)
            validate_partitions([k.name for k in dataset.partition_keys], artifact.partitions)
            if await repos.artifacts.get(dataset, artifact.id) is not None:
                raise AlreadyExists(f"artifact {artifact.id!r} already exists in dataset {key}")
            rows = self._data_rows(key, artifact.id, artifact.data)
            await repos.artifacts.create(new_artifact_row(artifact, dataset, rows, self._clock()))
            await self._data.put_all(rows, artifact.data)
        return dc.CreateArtifactResponse()

    async def get(self, request: dc.GetArtifactRequest) -> dc.GetArtifactResponse:
        validate_get_artifact(request)
        artifact_id, tag_name = _handle(request)
        async with self._repos.transaction() as repos:
            row = await find_artifact(repos, dataset_key(request.dataset), artifact_id, tag_name)
        data = await self._data.get_all(row.data)
        return dc.GetArtifactResponse(artifact=to_artifact(row, data))

    async def list_artifacts(self, request: dc.ListArtifactsRequest) -> dc.ListArtifactsResponse:
        where, page = validate_list_artifacts(request, self._default_limit)
        async with self._repos.transaction() as repos:
            dataset = await require_dataset(repos, dataset_key(request.dataset))
            rows = await repos.artifacts.find(dataset, where, page)
        data = await asyncio.gather(*(self._data.get_all(row.data) for row in rows))
        artifacts = [to_artifact(row, values) for row, values in zip(rows, data, strict=True)]
        next_token = str(page.offset + len(rows)) if len(rows) == page.limit else ""
        return dc.ListArtifactsResponse(artifacts=artifacts, next_token=next_token)

    async def update(self, request: dc.UpdateArtifactRequest) -> dc.UpdateArtifactResponse:
        validate_update_artifact(request)
        artifact_id, tag_name = _handle(request)
        key = dataset_key(request.dataset)
        metadata = request.metadata.SerializeToString() if request.HasField("metadata") else None
        async with self._repos.transaction() as repos:
            row = await find_artifact(repos, key, artifact_id, tag_name)
            previous = {d.location for d in row.data}
            rows = self._data_rows(key, row.artifact_id, request.data)
            await repos.artifacts.replace_data(row, rows, metadata, self._clock())
            await self._data.put_all(rows, request.data)
        await self._data.delete_quietly(sorted(previous - {r.location for r in rows}))
        return dc.UpdateArtifactResponse(artifact_id=row.artifact_id)

    def _data_rows(self, key: DatasetKey, artifact_id: str, data: list[dc.ArtifactData]) -> list[ArtifactDataRow]:
        names = [d.name for d in data]
        return data_rows(names, [self._data.location(key, artifact_id, name) for name in names])
