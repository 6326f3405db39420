"""AdminService RPCs for named entities: ListNamedEntities, GetNamedEntity, UpdateNamedEntity."""

from __future__ import annotations

from aloft_admin.api.base import RpcMixin


class NamedEntityRpcs(RpcMixin):
    pass
