"""Artifact data in the blob store: one serialized ``core.Literal`` per data entry, at
``<storage-prefix>/[<org>/]<project>/<domain>/<name>/<version>/<artifact id>/<data name>`` (Flyte's layout)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from urllib.parse import quote

from flyteidl.core import literals_pb2
from flyteidl.datacatalog import datacatalog_pb2 as dc

from aloft_datacatalog.repositories.keys import DatasetKey
from aloft_datacatalog.repositories.models import ArtifactDataRow
from aloft_service.errors import Internal, InvalidArgument
from aloft_storage import BlobNotFound, BlobStore

log = logging.getLogger(__name__)


def _segment(value: str) -> str:
    if value in (".", ".."):
        raise InvalidArgument(f"{value!r} cannot be used as a dataset, artifact or data name")
    return quote(value, safe="")


class ArtifactDataStore:
    def __init__(self, blobs: BlobStore, prefix: str) -> None:
        self._blobs = blobs
        self._prefix = prefix

    def location(self, dataset: DatasetKey, artifact_id: str, data_name: str) -> str:
        parts = [dataset.org] if dataset.org else []
        parts += [dataset.project, dataset.domain, dataset.name, dataset.version, artifact_id, data_name]
        return self._blobs.uri(self._prefix, *(_segment(p) for p in parts))

    async def put_all(self, rows: Sequence[ArtifactDataRow], data: Sequence[dc.ArtifactData]) -> None:
        await asyncio.gather(*(self._blobs.write_proto(r.location, d.value) for r, d in zip(rows, data, strict=True)))

    async def get_all(self, rows: Sequence[ArtifactDataRow]) -> list[dc.ArtifactData]:
        values = await asyncio.gather(*(self._get(row) for row in rows))
        return [dc.ArtifactData(name=row.name, value=value) for row, value in zip(rows, values, strict=True)]

    async def _get(self, row: ArtifactDataRow) -> literals_pb2.Literal:
        try:
            return await self._blobs.read_proto(row.location, literals_pb2.Literal)
        except BlobNotFound as exc:
            raise Internal(f"artifact data {row.name!r} is missing from the blob store at {row.location}") from exc

    async def delete_quietly(self, locations: Sequence[str]) -> None:
        """Best-effort removal of data no row points at any more (leftovers are harmless)."""
        for location in locations:
            try:
                await self._blobs.delete(location)
            except Exception:  # an orphaned blob must not fail a committed update
                log.warning("could not delete orphaned artifact data %s", location, exc_info=True)
