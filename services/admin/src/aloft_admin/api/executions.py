"""AdminService RPCs for executions: Create, Relaunch, Recover, Get, Update, GetExecutionData, List, Terminate, GetExecutionMetrics."""

from __future__ import annotations

from aloft_admin.api.base import RpcMixin


class ExecutionRpcs(RpcMixin):
    pass
