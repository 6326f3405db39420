"""AdminService RPCs for matchable attributes: project, project-domain and workflow attributes, ListMatchableAttributes."""

from __future__ import annotations

from aloft_admin.api.base import RpcMixin


class AttributeRpcs(RpcMixin):
    pass
