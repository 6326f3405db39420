"""CreateWorkflowEvent: the data plane reports a workflow execution's phase; admin updates its closure."""

from __future__ import annotations

from datetime import datetime

from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.admin import execution_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.event import event_pb2

from aloft_admin.deps import AdminDeps
from aloft_admin.managers.events_common import (
    EventKind,
    check_cluster,
    occurred_at,
    offload_literal_map,
    record_single_event,
    seconds_between,
)
from aloft_admin.managers.executions_lookup import get_execution_row
from aloft_admin.repositories.base import Repositories
from aloft_admin.repositories.models.executions import ExecutionModel
from aloft_admin.transformers.executions import closure_of
from aloft_admin.transformers.timestamps import to_timestamp
from aloft_admin.transitions import WORKFLOW_POLICY, Transition
from aloft_admin.validation.execution_identifiers import describe_execution
from aloft_service.errors import InvalidArgument

WF = core.WorkflowExecution


async def record_workflow_event(
    deps: AdminDeps, request: admin_event_pb2.WorkflowExecutionEventRequest
) -> admin_event_pb2.WorkflowExecutionEventResponse:
    if not request.HasField("event"):
        raise InvalidArgument("missing event")
    event = request.event
    at = occurred_at(event.occurred_at, "event.occurred_at")
    await record_single_event(deps, WORKFLOW_EVENTS, event, at)
    return admin_event_pb2.WorkflowExecutionEventResponse()


class WorkflowEvents(EventKind[event_pb2.WorkflowExecutionEvent, ExecutionModel]):
    """Workflow events update the execution row CreateExecution made; the row carries the cluster to check."""

    policy = WORKFLOW_POLICY

    def describe(self, event: event_pb2.WorkflowExecutionEvent) -> str:
        return describe_execution(event.execution_id)

    async def load(self, tx: Repositories, event: event_pb2.WorkflowExecutionEvent, what: str) -> ExecutionModel:
        row = await get_execution_row(tx, event.execution_id, for_update=True)
        check_cluster(row.cluster, event.producer_id, what)
        return row

    async def create(
        self, deps: AdminDeps, tx: Repositories, event: event_pb2.WorkflowExecutionEvent, at: datetime
    ) -> ExecutionModel:
        raise AssertionError("load answers NOT_FOUND: workflow events never create executions")

    def transition(self, row: ExecutionModel, event: event_pb2.WorkflowExecutionEvent) -> Transition:
        return Transition(WF.Phase.Value(row.phase), event.phase)

    async def apply(
        self, deps: AdminDeps, row: ExecutionModel, event: event_pb2.WorkflowExecutionEvent, at: datetime
    ) -> None:
        await apply_workflow_event(deps, row, event, at)


WORKFLOW_EVENTS = WorkflowEvents()


async def apply_workflow_event(
    deps: AdminDeps, row: ExecutionModel, event: event_pb2.WorkflowExecutionEvent, at: datetime
) -> None:
    closure = closure_of(row)
    closure.phase = event.phase
    row.phase = WF.Phase.Name(event.phase)
    row.execution_updated_at = at
    row.updated_at = deps.clock()
    # A data plane reporting on the execution evidently has it: the hand-off is complete.
    row.handoff = "done"
    if event.phase == WF.RUNNING and row.started_at is None:
        row.started_at = at
        closure.started_at.CopyFrom(to_timestamp(at))
    if WORKFLOW_POLICY.is_terminal(event.phase):
        row.duration = seconds_between(row.started_at, at)
        row.abort_pending = False
        # An abort's cause (recorded by TerminateExecution) stays the execution's result.
        if not (event.phase == WF.ABORTED and closure.HasField("abort_metadata")):
            await _record_result(deps, row, closure, event)
    row.closure = closure.SerializeToString()


async def _record_result(
    deps: AdminDeps,
    row: ExecutionModel,
    closure: execution_pb2.ExecutionClosure,
    event: event_pb2.WorkflowExecutionEvent,
) -> None:
    result = event.WhichOneof("output_result")
    if result == "output_uri":
        closure.outputs.uri = event.output_uri
    elif result == "output_data":
        closure.outputs.uri = await offload_literal_map(
            deps, event.output_data, row.project, row.domain, row.name, "outputs.pb"
        )
    elif result == "error":
        closure.error.CopyFrom(event.error)
        row.error_kind = core.ExecutionError.ErrorKind.Name(event.error.kind)
        row.error_code = event.error.code
