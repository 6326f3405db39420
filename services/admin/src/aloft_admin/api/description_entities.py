"""AdminService RPCs for description entities: GetDescriptionEntity, ListDescriptionEntities."""

from __future__ import annotations

from aloft_admin.api.base import RpcMixin


class DescriptionEntityRpcs(RpcMixin):
    pass
