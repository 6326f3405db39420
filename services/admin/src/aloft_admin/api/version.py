"""AdminService GetVersion."""

from __future__ import annotations

from aloft_admin.api.base import RpcMixin


class VersionRpcs(RpcMixin):
    pass
