"""AddTag: point a tag at an artifact of the same dataset; an existing tag moves (idempotent for the same target)."""

from __future__ import annotations

from flyteidl.datacatalog import datacatalog_pb2 as dc

from aloft_datacatalog.managers.base import Clock, require_dataset, utc_now
from aloft_datacatalog.repositories.base import RepositoryProvider
from aloft_datacatalog.transformers.datasets import dataset_key
from aloft_datacatalog.validation.artifacts import validate_add_tag
from aloft_service.errors import NotFound


class TagManager:
    def __init__(self, repos: RepositoryProvider, clock: Clock = utc_now) -> None:
        self._repos = repos
        self._clock = clock

    async def add(self, request: dc.AddTagRequest) -> dc.AddTagResponse:
        validate_add_tag(request)
        tag = request.tag
        key = dataset_key(tag.dataset)
        async with self._repos.transaction() as repos:
            dataset = await require_dataset(repos, key)
            artifact = await repos.artifacts.get(dataset, tag.artifact_id)
            if artifact is None:
                raise NotFound(f"artifact {tag.artifact_id!r} not found in dataset {key}")
            await repos.tags.put(dataset, tag.name, artifact, self._clock())
        return dc.AddTagResponse()
