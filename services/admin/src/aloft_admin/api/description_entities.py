"""AdminService RPCs for description entities: GetDescriptionEntity, ListDescriptionEntities."""

from __future__ import annotations

from typing import Any

from flyteidl.admin import common_pb2, description_entity_pb2

from aloft_admin.api.base import RpcMixin


class DescriptionEntityRpcs(RpcMixin):
    async def GetDescriptionEntity(
        self, request: common_pb2.ObjectGetRequest, context: Any
    ) -> description_entity_pb2.DescriptionEntity:
        return await self.managers.description_entities.get(request)

    async def ListDescriptionEntities(
        self, request: description_entity_pb2.DescriptionEntityListRequest, context: Any
    ) -> description_entity_pb2.DescriptionEntityList:
        return await self.managers.description_entities.list(request)
