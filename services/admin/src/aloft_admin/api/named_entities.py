"""AdminService RPCs for named entities: ListNamedEntities, GetNamedEntity, UpdateNamedEntity."""

from __future__ import annotations

from typing import Any

from flyteidl.admin import common_pb2

from aloft_admin.api.base import RpcMixin


class NamedEntityRpcs(RpcMixin):
    async def ListNamedEntities(
        self, request: common_pb2.NamedEntityListRequest, context: Any
    ) -> common_pb2.NamedEntityList:
        return await self.managers.named_entities.list(request)

    async def GetNamedEntity(self, request: common_pb2.NamedEntityGetRequest, context: Any) -> common_pb2.NamedEntity:
        return await self.managers.named_entities.get(request)

    async def UpdateNamedEntity(
        self, request: common_pb2.NamedEntityUpdateRequest, context: Any
    ) -> common_pb2.NamedEntityUpdateResponse:
        return await self.managers.named_entities.update(request)
