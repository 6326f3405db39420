"""Every manager object, built once at start-up (server.py) and handed to the servicers.

``build_managers`` is the only place that opens the start-up bundle (``AdminDeps``): each manager receives just
what it uses — the unit of work, the clock, config sections, the blob store, clients — and the managers it calls.
"""

from __future__ import annotations

from dataclasses import dataclass

from aloft_admin.deps import AdminDeps
from aloft_admin.managers.attributes import AttributeResolver, AttributesManager
from aloft_admin.managers.dataproxy import DataProxyManager
from aloft_admin.managers.events_batch import EventBatchManager
from aloft_admin.managers.events_common import EventRecorder, LiteralOffload
from aloft_admin.managers.events_group import EventGroups
from aloft_admin.managers.events_node import NodeEventManager
from aloft_admin.managers.events_task import TaskEventManager
from aloft_admin.managers.events_workflow import WorkflowEventManager
from aloft_admin.managers.execution_data import ExecutionData
from aloft_admin.managers.execution_inserts import ExecutionInserts
from aloft_admin.managers.execution_metrics import ExecutionMetricsManager
from aloft_admin.managers.execution_reads import ExecutionReadManager
from aloft_admin.managers.executions import ExecutionManager
from aloft_admin.managers.executions_config import ExecutionConfigResolver
from aloft_admin.managers.executions_create import ExecutionCreateManager
from aloft_admin.managers.executions_handoff import Handoffs
from aloft_admin.managers.executions_single_task import SingleTaskLaunchPlans
from aloft_admin.managers.handoff_marks import HandedOffMarks, StartedMarks
from aloft_admin.managers.launch_plans import LaunchPlanManager
from aloft_admin.managers.launch_targets import LaunchTargetCache, LaunchTargets
from aloft_admin.managers.named_entities import DescriptionEntityManager, NamedEntityManager
from aloft_admin.managers.node_executions import NodeExecutionManager
from aloft_admin.managers.projects import ProjectDomainCheck, ProjectManager
from aloft_admin.managers.signals import SignalManager
from aloft_admin.managers.task_executions import TaskExecutionManager
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
    executions: ExecutionManager
    execution_creates: ExecutionCreateManager
    execution_metrics: ExecutionMetricsManager
    handoffs: Handoffs
    node_executions: NodeExecutionManager
    task_executions: TaskExecutionManager
    workflow_events: WorkflowEventManager
    node_events: NodeEventManager
    task_events: TaskEventManager
    event_batches: EventBatchManager


def build_managers(deps: AdminDeps) -> Managers:
    repos, clock, blobs, config = deps.repos, deps.clock, deps.blobs, deps.config
    admin = config.admin
    settings_ttl = admin.settingsCacheTtl.total_seconds()
    check = ProjectDomainCheck(config.domains, settings_ttl)
    attributes = AttributeResolver(config.task_resources, settings_ttl)
    workflows = WorkflowManager(repos, blobs, clock, check, admin.metadataPrefix)
    launch_plans = LaunchPlanManager(repos, clock, check)
    data = ExecutionData(blobs, admin)
    node_executions = NodeExecutionManager(repos, blobs, data)
    task_executions = TaskExecutionManager(repos, data)
    handoffs = Handoffs(
        repos,
        blobs,
        deps.dataplanes,
        clock,
        admin.metadataPrefix,
        HandedOffMarks(repos, clock),
        StartedMarks(repos),
    )
    offload = LiteralOffload(blobs, admin.metadataPrefix)
    recorder = EventRecorder(repos, deps.egress, config.remoteData.maxSizeInBytes)
    groups = EventGroups(repos, recorder)
    workflow_events = WorkflowEventManager(recorder, groups, clock, offload)
    node_events = NodeEventManager(recorder, groups, clock, offload)
    task_events = TaskEventManager(recorder, groups, clock, offload)
    return Managers(
        projects=ProjectManager(repos, clock, config.domains, check),
        tasks=TaskManager(repos, clock, check, config.task_resources.limits),
        workflows=workflows,
        launch_plans=launch_plans,
        named_entities=NamedEntityManager(repos, clock, check),
        description_entities=DescriptionEntityManager(repos),
        attributes=AttributesManager(repos, clock, check, attributes),
        signals=SignalManager(repos, clock),
        dataproxy=DataProxyManager(blobs, clock, admin, ExecutionReadManager(node_executions, task_executions)),
        executions=ExecutionManager(repos, clock, data, handoffs),
        execution_creates=ExecutionCreateManager(
            repos,
            blobs,
            clock,
            admin,
            check,
            LaunchTargets(LaunchTargetCache()),
            SingleTaskLaunchPlans(repos, workflows, launch_plans),
            ExecutionConfigResolver(attributes, blobs, admin.rawOutputPrefix, config.task_resources),
            deps.dataplanes,
            handoffs,
            deps.background,
            ExecutionInserts(repos),
        ),
        execution_metrics=ExecutionMetricsManager(repos),
        handoffs=handoffs,
        node_executions=node_executions,
        task_executions=task_executions,
        workflow_events=workflow_events,
        node_events=node_events,
        task_events=task_events,
        event_batches=EventBatchManager(repos, recorder, workflow_events, node_events, task_events),
    )
