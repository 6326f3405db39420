"""flyteidl.service.DataProxyService: upload/download locations and GetData."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from flyteidl.service import dataproxy_pb2, dataproxy_pb2_grpc

from aloft_admin.api.base import RpcMixin
from aloft_admin.deps import AdminDeps
from aloft_admin.managers.dataproxy import DataProxyManager, ExecutionDataSource


class DataProxyServicer(RpcMixin, dataproxy_pb2_grpc.DataProxyServiceServicer):
    def __init__(self, deps: AdminDeps, executions: ExecutionDataSource | None = None) -> None:
        super().__init__(deps)
        self.executions = executions

    @cached_property
    def manager(self) -> DataProxyManager:
        return DataProxyManager(self.deps, self.executions)

    async def CreateUploadLocation(
        self, request: dataproxy_pb2.CreateUploadLocationRequest, context: Any
    ) -> dataproxy_pb2.CreateUploadLocationResponse:
        return await self.manager.create_upload_location(request)

    async def CreateDownloadLocation(
        self, request: dataproxy_pb2.CreateDownloadLocationRequest, context: Any
    ) -> dataproxy_pb2.CreateDownloadLocationResponse:
        return await self.manager.create_download_location(request)

    async def CreateDownloadLink(
        self, request: dataproxy_pb2.CreateDownloadLinkRequest, context: Any
    ) -> dataproxy_pb2.CreateDownloadLinkResponse:
        return await self.manager.create_download_link(request)

    async def GetData(self, request: dataproxy_pb2.GetDataRequest, context: Any) -> dataproxy_pb2.GetDataResponse:
        return await self.manager.get_data(request)
