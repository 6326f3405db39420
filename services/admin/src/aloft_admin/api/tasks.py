"""AdminService RPCs for tasks: CreateTask, GetTask, ListTaskIds, ListTasks."""

from __future__ import annotations

from aloft_admin.api.base import RpcMixin


class TaskRpcs(RpcMixin):
    pass
