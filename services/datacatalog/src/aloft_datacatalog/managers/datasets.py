"""Use cases for datasets: create (ALREADY_EXISTS on a duplicate identity), get, list."""

from __future__ import annotations

from flyteidl.datacatalog import datacatalog_pb2 as dc

from aloft_datacatalog.managers.base import Clock, require_dataset, utc_now
from aloft_datacatalog.repositories.base import RepositoryProvider
from aloft_datacatalog.transformers.datasets import dataset_key, new_dataset_row, to_dataset
from aloft_datacatalog.validation.datasets import validate_create_dataset, validate_get_dataset
from aloft_datacatalog.validation.listing import validate_list_datasets
from aloft_service.errors import AlreadyExists


class DatasetManager:
    def __init__(self, repos: RepositoryProvider, default_page_limit: int, clock: Clock = utc_now) -> None:
        self._repos = repos
        self._default_limit = default_page_limit
        self._clock = clock

    async def create(self, request: dc.CreateDatasetRequest) -> dc.CreateDatasetResponse:
        validate_create_dataset(request)
        key = dataset_key(request.dataset.id)
        async with self._repos.transaction() as repos:
            if await repos.datasets.get(key) is not None:
                raise AlreadyExists(f"dataset {key} already exists")
            await repos.datasets.create(new_dataset_row(request.dataset, self._clock()))
        return dc.CreateDatasetResponse()

    async def get(self, request: dc.GetDatasetRequest) -> dc.GetDatasetResponse:
        validate_get_dataset(request)
        async with self._repos.transaction() as repos:
            dataset = await require_dataset(repos, dataset_key(request.dataset))
            return dc.GetDatasetResponse(dataset=to_dataset(dataset))

    async def list_datasets(self, request: dc.ListDatasetsRequest) -> dc.ListDatasetsResponse:
        where, page = validate_list_datasets(request, self._default_limit)
        async with self._repos.transaction() as repos:
            rows = await repos.datasets.find(where, page)
            datasets = [to_dataset(row) for row in rows]
        next_token = str(page.offset + len(rows)) if len(rows) == page.limit else ""
        return dc.ListDatasetsResponse(datasets=datasets, next_token=next_token)
