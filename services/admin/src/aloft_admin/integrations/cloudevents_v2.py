"""Cloud events v2 (``cloudEventVersion: v2``): Flyte's enriched events, as its CloudEventWrappedPublisher builds them.

``data`` is a ``flyteidl.event.CloudEvent{Workflow,Node,Task}Execution`` (protobuf JSON) around the raw event:
- workflow events that SUCCEEDED (every phase with ``eventsPublisher.enrichAllWorkflowEventTypes``) carry the
  workflow's interface, the execution's artifact ids, reference execution, principal, launch plan and labels;
- node events that SUCCEEDED (start-node aside) carry the latest attempt's task execution id and task interface,
  artifact ids, principal, launch plan and labels; other node events only the raw event;
- task events carry the execution's labels.
The type is ``com.flyte.resource.cloudevents.<WorkflowExecution|NodeExecution|TaskExecution>``, the source the Flyte
URL key of the node (``<execution>/end-node`` for workflow events, ``<execution>/<node>/<attempt>`` for tasks) and
``jsonschemaurl`` empty, as in Flyte. The extra fields are read when the event is published, as Flyte does.
"""

from __future__ import annotations

from typing import Any

from flyteidl.admin import common_pb2, task_pb2
from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.admin import execution_pb2 as admin_execution_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.core import identifier_pb2, interface_pb2
from flyteidl.event import cloudevents_pb2
from google.protobuf import json_format
from google.protobuf.message import Message

from aloft_admin.config import EventsPublisherConfig
from aloft_admin.integrations.cloudevents import JSON_SCHEMA_URL_KEY, REQUEST_TYPES, TYPE_PREFIX, event_id_and_time
from aloft_admin.repositories.base import Repositories, RepositoryProvider
from aloft_admin.repositories.keys import ListQuery
from aloft_admin.repositories.models.entities import TaskRow, WorkflowRow
from aloft_admin.repositories.models.executions import ExecutionModel
from aloft_admin.transformers.executions import closure_of, spec_of
from aloft_admin.transformers.task_executions import task_execution_identifier

WORKFLOW_TOPIC = "cloudevents.WorkflowExecution"
NODE_TOPIC = "cloudevents.NodeExecution"
TASK_TOPIC = "cloudevents.TaskExecution"
START_NODE = "start-node"
END_NODE = "end-node"


class MissingEntity(LookupError):
    """What the event enriches is not in admin's database (it can never be published as v2)."""


def node_key(node: identifier_pb2.NodeExecutionIdentifier) -> str:
    """Flyte's FlyteURLKeyFromNodeExecutionID."""
    return f"{node.execution_id.name}/{node.node_id}"


class EnrichedEvents:
    """Builds v2 cloud events from outbox rows, reading what they add from admin's database."""

    def __init__(self, repos: RepositoryProvider, config: EventsPublisherConfig) -> None:
        self._repos = repos
        self._enrich_all_workflow_events = config.enrichAllWorkflowEventTypes

    async def cloud_event(self, kind: str, payload: bytes) -> dict[str, Any]:
        request = REQUEST_TYPES[kind].FromString(payload)
        event_id, occurred = event_id_and_time(request)
        async with self._repos.transaction() as tx:
            topic, source, data = await self._enriched(tx, request)
        return {
            "specversion": "1.0",
            "id": event_id,
            "source": source,
            "type": f"{TYPE_PREFIX}.{topic}",
            "datacontenttype": "application/json",
            "time": occurred,
            JSON_SCHEMA_URL_KEY: "",
            "data": json_format.MessageToDict(data),
        }

    async def _enriched(self, tx: Repositories, request: Message) -> tuple[str, str, Message]:
        if isinstance(request, admin_event_pb2.WorkflowExecutionEventRequest):
            wid = request.event.execution_id
            source = node_key(identifier_pb2.NodeExecutionIdentifier(node_id=END_NODE, execution_id=wid))
            return WORKFLOW_TOPIC, source, await self._workflow(tx, request.event)
        if isinstance(request, admin_event_pb2.NodeExecutionEventRequest):
            return NODE_TOPIC, node_key(request.event.id), await self._node(tx, request.event)
        assert isinstance(request, admin_event_pb2.TaskExecutionEventRequest)
        task = request.event
        source = f"{node_key(task.parent_node_execution_id)}/{task.retry_attempt}"
        spec = spec_of(await _execution(tx, task.parent_node_execution_id.execution_id))
        return TASK_TOPIC, source, cloudevents_pb2.CloudEventTaskExecution(raw_event=task, labels=_labels(spec))

    async def _workflow(self, tx: Repositories, event: Any) -> cloudevents_pb2.CloudEventWorkflowExecution:
        if event.phase != core.WorkflowExecution.SUCCEEDED and not self._enrich_all_workflow_events:
            return cloudevents_pb2.CloudEventWorkflowExecution(raw_event=event)
        execution = await _execution(tx, event.execution_id)
        closure = closure_of(execution)
        if not closure.HasField("workflow_id"):
            raise MissingEntity(f"execution {event.execution_id.name} has no workflow id")
        workflow = await tx.entities.get(WorkflowRow, closure.workflow_id)
        if workflow is None:
            raise MissingEntity(f"workflow {closure.workflow_id.name}:{closure.workflow_id.version} not found")
        spec = spec_of(execution)
        return cloudevents_pb2.CloudEventWorkflowExecution(
            raw_event=event,
            output_interface=interface_pb2.TypedInterface.FromString(workflow.typed_interface or b""),
            artifact_ids=spec.metadata.artifact_ids,
            reference_execution=spec.metadata.reference_execution,
            principal=spec.metadata.principal,
            launch_plan_id=spec.launch_plan,
            labels=_labels(spec),
        )

    async def _node(self, tx: Repositories, event: Any) -> cloudevents_pb2.CloudEventNodeExecution:
        if event.phase != core.NodeExecution.SUCCEEDED or event.id.node_id == START_NODE:
            return cloudevents_pb2.CloudEventNodeExecution(raw_event=event)
        spec = spec_of(await _execution(tx, event.id.execution_id))
        enriched = cloudevents_pb2.CloudEventNodeExecution(
            raw_event=event,
            artifact_ids=spec.metadata.artifact_ids,
            principal=spec.metadata.principal,
            launch_plan_id=spec.launch_plan,
            labels=_labels(spec),
        )
        latest_first = common_pb2.Sort(key="retry_attempt", direction=common_pb2.Sort.DESCENDING)
        attempts, _ = await tx.task_executions.page(event.id, ListQuery(limit=1, sort_by=latest_first))
        if attempts:  # nodes without tasks (branches, subworkflows) carry neither field
            task_execution_id = task_execution_identifier(attempts[0])
            task = await tx.entities.get(TaskRow, task_execution_id.task_id)
            if task is None:
                raise MissingEntity(f"task {task_execution_id.task_id.name} not found")
            closure = task_pb2.TaskClosure.FromString(task.closure)
            enriched.task_exec_id.CopyFrom(task_execution_id)
            enriched.output_interface.CopyFrom(closure.compiled_task.template.interface)
        return enriched


async def _execution(tx: Repositories, wid: identifier_pb2.WorkflowExecutionIdentifier) -> ExecutionModel:
    execution = await tx.executions.get(wid)
    if execution is None:
        raise MissingEntity(f"execution {wid.name} not found")
    return execution


def _labels(spec: admin_execution_pb2.ExecutionSpec) -> dict[str, str]:
    return dict(spec.labels.values)
