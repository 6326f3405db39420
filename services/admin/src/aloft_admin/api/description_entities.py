"""AdminService RPCs for description entities: GetDescriptionEntity, ListDescriptionEntities."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from flyteidl.admin import common_pb2, description_entity_pb2

from aloft_admin.api.base import RpcMixin
from aloft_admin.managers.named_entities import DescriptionEntityManager


class DescriptionEntityRpcs(RpcMixin):
    @cached_property
    def description_entity_manager(self) -> DescriptionEntityManager:
        return DescriptionEntityManager(self.deps)

    async def GetDescriptionEntity(
        self, request: common_pb2.ObjectGetRequest, context: Any
    ) -> description_entity_pb2.DescriptionEntity:
        return await self.description_entity_manager.get(request)

    async def ListDescriptionEntities(
        self, request: description_entity_pb2.DescriptionEntityListRequest, context: Any
    ) -> description_entity_pb2.DescriptionEntityList:
        return await self.description_entity_manager.list(request)
