"""AdminService RPCs for task executions: GetTaskExecution, ListTaskExecutions, GetTaskExecutionData."""

from __future__ import annotations

from aloft_admin.api.base import RpcMixin


class TaskExecutionRpcs(RpcMixin):
    pass
