"""Every manager object, built once at start-up (server.py) with its dependencies, and handed to the servicers."""

from __future__ import annotations

from dataclasses import dataclass

from aloft_admin.deps import AdminDeps
from aloft_admin.managers.attributes import AttributesManager
from aloft_admin.managers.dataproxy import DataProxyManager
from aloft_admin.managers.execution_reads import ExecutionReadManager
from aloft_admin.managers.launch_plans import LaunchPlanManager
from aloft_admin.managers.named_entities import DescriptionEntityManager, NamedEntityManager
from aloft_admin.managers.projects import ProjectManager
from aloft_admin.managers.signals import SignalManager
from aloft_admin.managers.tasks import TaskManager
from aloft_admin.managers.workflows import WorkflowManager


@dataclass(frozen=True)
class Managers:
    projects: ProjectManager
    tasks: TaskManager
    workflows: WorkflowManager
    launch_plans: LaunchPlanManager
    named_entities: NamedEntityManager
    description_entities: DescriptionEntityManager
    attributes: AttributesManager
    signals: SignalManager
    dataproxy: DataProxyManager


def build_managers(deps: AdminDeps) -> Managers:
    return Managers(
        projects=ProjectManager(deps),
        tasks=TaskManager(deps),
        workflows=WorkflowManager(deps),
        launch_plans=LaunchPlanManager(deps),
        named_entities=NamedEntityManager(deps),
        description_entities=DescriptionEntityManager(deps),
        attributes=AttributesManager(deps),
        signals=SignalManager(deps),
        dataproxy=DataProxyManager(deps, ExecutionReadManager(deps)),
    )
