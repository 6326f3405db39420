"""AdminService RPCs for named entities: ListNamedEntities, GetNamedEntity, UpdateNamedEntity."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from flyteidl.admin import common_pb2

from aloft_admin.api.base import RpcMixin
from aloft_admin.managers.named_entities import NamedEntityManager


class NamedEntityRpcs(RpcMixin):
    @cached_property
    def named_entity_manager(self) -> NamedEntityManager:
        return NamedEntityManager(self.deps)

    async def ListNamedEntities(
        self, request: common_pb2.NamedEntityListRequest, context: Any
    ) -> common_pb2.NamedEntityList:
        return await self.named_entity_manager.list(request)

    async def GetNamedEntity(self, request: common_pb2.NamedEntityGetRequest, context: Any) -> common_pb2.NamedEntity:
        return await self.named_entity_manager.get(request)

    async def UpdateNamedEntity(
        self, request: common_pb2.NamedEntityUpdateRequest, context: Any
    ) -> common_pb2.NamedEntityUpdateResponse:
        return await self.named_entity_manager.update(request)
