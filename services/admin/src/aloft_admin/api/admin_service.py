"""flyteidl.service.AdminService, composed from one mixin per resource."""

from __future__ import annotations

from flyteidl.service import admin_pb2_grpc

from aloft_admin.api.attributes import AttributeRpcs
from aloft_admin.api.description_entities import DescriptionEntityRpcs
from aloft_admin.api.events import EventRpcs
from aloft_admin.api.executions import ExecutionRpcs
from aloft_admin.api.launch_plans import LaunchPlanRpcs
from aloft_admin.api.named_entities import NamedEntityRpcs
from aloft_admin.api.node_executions import NodeExecutionRpcs
from aloft_admin.api.projects import ProjectRpcs
from aloft_admin.api.task_executions import TaskExecutionRpcs
from aloft_admin.api.tasks import TaskRpcs
from aloft_admin.api.version import VersionRpcs
from aloft_admin.api.workflows import WorkflowRpcs


class AdminServicer(
    ProjectRpcs,
    TaskRpcs,
    WorkflowRpcs,
    LaunchPlanRpcs,
    NamedEntityRpcs,
    DescriptionEntityRpcs,
    AttributeRpcs,
    ExecutionRpcs,
    NodeExecutionRpcs,
    TaskExecutionRpcs,
    EventRpcs,
    VersionRpcs,
    admin_pb2_grpc.AdminServiceServicer,
):
    """Every AdminService RPC; the generated base class answers UNIMPLEMENTED for any a mixin lacks."""
