"""flyteidl.service.AuthMetadataService and IdentityService (answers for auth disabled until the auth issue)."""

from __future__ import annotations

from flyteidl.service import auth_pb2_grpc, identity_pb2_grpc

from aloft_admin.api.base import RpcMixin


class AuthMetadataServicer(RpcMixin, auth_pb2_grpc.AuthMetadataServiceServicer):
    pass


class IdentityServicer(RpcMixin, identity_pb2_grpc.IdentityServiceServicer):
    pass
