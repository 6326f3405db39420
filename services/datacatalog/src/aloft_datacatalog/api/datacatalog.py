"""flyteidl ``datacatalog.DataCatalog``: each RPC hands the request to its manager and returns the answer.

Error → status mapping, latency metrics and tracing happen once, in the shared server interceptor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flyteidl.datacatalog import datacatalog_pb2 as dc
from flyteidl.datacatalog import datacatalog_pb2_grpc

from aloft_datacatalog.managers.artifacts import ArtifactManager
from aloft_datacatalog.managers.datasets import DatasetManager
from aloft_datacatalog.managers.reservations import ReservationManager
from aloft_datacatalog.managers.tags import TagManager

Context = Any  # grpc.aio.ServicerContext


@dataclass
class Managers:
    datasets: DatasetManager
    artifacts: ArtifactManager
    tags: TagManager
    reservations: ReservationManager


class DataCatalogServicer(datacatalog_pb2_grpc.DataCatalogServicer):
    def __init__(self, managers: Managers) -> None:
        self._m = managers

    async def CreateDataset(self, request: dc.CreateDatasetRequest, context: Context) -> dc.CreateDatasetResponse:
        return await self._m.datasets.create(request)

    async def GetDataset(self, request: dc.GetDatasetRequest, context: Context) -> dc.GetDatasetResponse:
        return await self._m.datasets.get(request)

    async def ListDatasets(self, request: dc.ListDatasetsRequest, context: Context) -> dc.ListDatasetsResponse:
        return await self._m.datasets.list_datasets(request)

    async def CreateArtifact(self, request: dc.CreateArtifactRequest, context: Context) -> dc.CreateArtifactResponse:
        return await self._m.artifacts.create(request)

    async def GetArtifact(self, request: dc.GetArtifactRequest, context: Context) -> dc.GetArtifactResponse:
        return await self._m.artifacts.get(request)

    async def ListArtifacts(self, request: dc.ListArtifactsRequest, context: Context) -> dc.ListArtifactsResponse:
        return await self._m.artifacts.list_artifacts(request)

    async def UpdateArtifact(self, request: dc.UpdateArtifactRequest, context: Context) -> dc.UpdateArtifactResponse:
        return await self._m.artifacts.update(request)

    async def AddTag(self, request: dc.AddTagRequest, context: Context) -> dc.AddTagResponse:
        return await self._m.tags.add(request)

    async def GetOrExtendReservation(
        self, request: dc.GetOrExtendReservationRequest, context: Context
    ) -> dc.GetOrExtendReservationResponse:
        return await self._m.reservations.get_or_extend(request)

    async def ReleaseReservation(
        self, request: dc.ReleaseReservationRequest, context: Context
    ) -> dc.ReleaseReservationResponse:
        return await self._m.reservations.release(request)
