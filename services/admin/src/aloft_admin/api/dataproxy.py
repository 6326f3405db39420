"""flyteidl.service.DataProxyService: upload/download locations and GetData."""

from __future__ import annotations

from typing import Any

from flyteidl.service import dataproxy_pb2, dataproxy_pb2_grpc

from aloft_admin.api.base import RpcMixin


class DataProxyServicer(RpcMixin, dataproxy_pb2_grpc.DataProxyServiceServicer):
    async def CreateUploadLocation(
        self, request: dataproxy_pb2.CreateUploadLocationRequest, context: Any
    ) -> dataproxy_pb2.CreateUploadLocationResponse:
        return await self.managers.dataproxy.create_upload_location(request)

    async def CreateDownloadLocation(
        self, request: dataproxy_pb2.CreateDownloadLocationRequest, context: Any
    ) -> dataproxy_pb2.CreateDownloadLocationResponse:
        return await self.managers.dataproxy.create_download_location(request)

    async def CreateDownloadLink(
        self, request: dataproxy_pb2.CreateDownloadLinkRequest, context: Any
    ) -> dataproxy_pb2.CreateDownloadLinkResponse:
        return await self.managers.dataproxy.create_download_link(request)

    async def GetData(self, request: dataproxy_pb2.GetDataRequest, context: Any) -> dataproxy_pb2.GetDataResponse:
        return await self.managers.dataproxy.get_data(request)
