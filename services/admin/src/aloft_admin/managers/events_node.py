"""CreateNodeEvent: node executions are created by their first event and updated by later ones.

Relations: ``parent_node_metadata.node_id`` makes the node a child of another node of the same execution
(subworkflow, dynamic, array children); ``parent_task_metadata`` makes it a child of a task execution.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.admin import node_execution_pb2
from flyteidl.core import catalog_pb2, identifier_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.event import event_pb2

from aloft_admin.managers.events_common import (
    EventKind,
    check_event_cluster,
    occurred_at,
    seconds_between,
)
from aloft_admin.managers.executions_lookup import (
    get_node_execution_row,
    get_task_execution_row,
)
from aloft_admin.repositories.base import Repositories
from aloft_admin.repositories.models.executions import NodeExecutionModel
from aloft_admin.transformers.node_executions import new_node_execution_row, node_closure_of, node_metadata_of
from aloft_admin.transformers.timestamps import to_timestamp
from aloft_admin.transitions import NODE_POLICY, Transition
from aloft_admin.validation.execution_identifiers import describe_node_execution, validate_node_execution_id

NODE = core.NodeExecution


class NodeEventManager(
    EventKind[event_pb2.NodeExecutionEvent, NodeExecutionModel, admin_event_pb2.NodeExecutionEventResponse]
):
    """CreateNodeEvent. A node execution is created by its first event and updated by later ones."""

    policy = NODE_POLICY
    response = admin_event_pb2.NodeExecutionEventResponse

    def checked(self, event: event_pb2.NodeExecutionEvent) -> datetime:
        validate_node_execution_id(event.id, "event.id")
        return occurred_at(event.occurred_at, "event.occurred_at")

    def describe(self, event: event_pb2.NodeExecutionEvent) -> str:
        return describe_node_execution(event.id)

    async def load(self, tx: Repositories, event: event_pb2.NodeExecutionEvent, what: str) -> NodeExecutionModel | None:
        await check_event_cluster(tx, event.id.execution_id, event.producer_id, what)
        return await tx.node_executions.for_event(event.id)

    async def prefetch(self, tx: Repositories, events: Sequence[event_pb2.NodeExecutionEvent]) -> None:
        await tx.node_executions.prefetch([event.id for event in events])

    async def create(self, tx: Repositories, event: event_pb2.NodeExecutionEvent, at: datetime) -> NodeExecutionModel:
        row = new_node_execution_row(event.id, at, self.clock())
        wid = event.id.execution_id
        if event.parent_node_metadata.node_id:
            parent_id = identifier_pb2.NodeExecutionIdentifier(
                node_id=event.parent_node_metadata.node_id, execution_id=wid
            )
            parent = await get_node_execution_row(tx, parent_id)
            row.parent_id = parent.id
        if event.HasField("parent_task_metadata"):
            parent_task = await get_task_execution_row(tx, event.parent_task_metadata.id)
            parent_task.is_parent = True
            row.parent_task_execution_id = parent_task.id
        await tx.node_executions.add(row)
        return row

    def transition(self, row: NodeExecutionModel, event: event_pb2.NodeExecutionEvent) -> Transition:
        return Transition(NODE.Phase.Value(row.phase), event.phase)

    async def apply(self, row: NodeExecutionModel, event: event_pb2.NodeExecutionEvent, at: datetime) -> None:
        closure = node_closure_of(row)
        closure.phase = event.phase
        row.phase = NODE.Phase.Name(event.phase)
        row.node_execution_updated_at = at
        row.updated_at = self.clock()
        row.event_version = event.event_version
        if event.phase == NODE.RUNNING and row.started_at is None:
            row.started_at = at
            closure.started_at.CopyFrom(to_timestamp(at))
        row.input_uri = await self.offload.inputs(event, row.input_uri, *_node_prefix(row))
        _record_metadata(row, event)
        await self._record_target_metadata(row, closure, event)
        if event.deck_uri:
            closure.deck_uri = event.deck_uri
        if NODE_POLICY.is_terminal(event.phase):
            row.duration = seconds_between(row.started_at, at)
            await self._record_result(row, closure, event)
        row.closure = closure.SerializeToString()

    async def _record_target_metadata(
        self,
        row: NodeExecutionModel,
        closure: node_execution_pb2.NodeExecutionClosure,
        event: event_pb2.NodeExecutionEvent,
    ) -> None:
        if event.HasField("workflow_node_metadata"):
            closure.workflow_node_metadata.executionId.CopyFrom(event.workflow_node_metadata.execution_id)
        if not event.HasField("task_node_metadata"):
            return
        task_meta = event.task_node_metadata
        closure.task_node_metadata.cache_status = task_meta.cache_status
        closure.task_node_metadata.catalog_key.CopyFrom(task_meta.catalog_key)
        closure.task_node_metadata.checkpoint_uri = task_meta.checkpoint_uri
        row.cache_status = catalog_pb2.CatalogCacheStatus.Name(task_meta.cache_status)
        if task_meta.HasField("dynamic_workflow"):
            dynamic = task_meta.dynamic_workflow
            closure.dynamic_job_spec_uri = dynamic.dynamic_job_spec_uri
            # The compiled dynamic workflow can be large: keep it in the blob store (GetDynamicNodeWorkflow reads it).
            row.dynamic_workflow_remote_closure_reference = await self.offload.write(
                dynamic, *_node_prefix(row), "dynamic_workflow.pb"
            )
            metadata = node_metadata_of(row)
            metadata.is_dynamic = True
            metadata.is_parent_node = True
            row.metadata_ = metadata.SerializeToString()

    async def _record_result(
        self,
        row: NodeExecutionModel,
        closure: node_execution_pb2.NodeExecutionClosure,
        event: event_pb2.NodeExecutionEvent,
    ) -> None:
        outputs = await self.offload.outputs(event, *_node_prefix(row))
        if outputs is not None:
            closure.output_uri = outputs
        elif event.WhichOneof("output_result") == "error":
            closure.error.CopyFrom(event.error)
            row.error_kind = core.ExecutionError.ErrorKind.Name(event.error.kind)
            row.error_code = event.error.code


def _record_metadata(row: NodeExecutionModel, event: event_pb2.NodeExecutionEvent) -> None:
    metadata = node_metadata_of(row)
    metadata.retry_group = event.retry_group or metadata.retry_group
    metadata.spec_node_id = event.spec_node_id or metadata.spec_node_id
    metadata.is_parent_node = metadata.is_parent_node or event.is_parent
    metadata.is_dynamic = metadata.is_dynamic or event.is_dynamic
    metadata.is_array = metadata.is_array or event.is_array
    metadata.is_eager = metadata.is_eager or event.is_eager
    row.metadata_ = metadata.SerializeToString()


def _node_prefix(row: NodeExecutionModel) -> tuple[str, ...]:
    return (row.execution_project, row.execution_domain, row.execution_name, "nodes", row.node_id)
