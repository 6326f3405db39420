"""AdminService RPCs for node executions: Get, GetDynamicNodeWorkflow, List, ListForTask, GetNodeExecutionData."""

from __future__ import annotations

from aloft_admin.api.base import RpcMixin


class NodeExecutionRpcs(RpcMixin):
    pass
