"""flyteidl.service.DataProxyService: upload/download locations and GetData."""

from __future__ import annotations

from flyteidl.service import dataproxy_pb2_grpc

from aloft_admin.api.base import RpcMixin


class DataProxyServicer(RpcMixin, dataproxy_pb2_grpc.DataProxyServiceServicer):
    pass
