"""AdminService RPCs for workflows: CreateWorkflow (compiles), GetWorkflow, ListWorkflowIds, ListWorkflows."""

from __future__ import annotations

from aloft_admin.api.base import RpcMixin


class WorkflowRpcs(RpcMixin):
    pass
