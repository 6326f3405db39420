"""AdminService RPCs for events: CreateWorkflowEvent, CreateNodeEvent, CreateTaskEvent."""

from __future__ import annotations

from aloft_admin.api.base import RpcMixin


class EventRpcs(RpcMixin):
    pass
