"""AdminService RPCs for launch plans: Create/Get/GetActive/ListActive/ListIds/List/UpdateLaunchPlan."""

from __future__ import annotations

from aloft_admin.api.base import RpcMixin


class LaunchPlanRpcs(RpcMixin):
    pass
