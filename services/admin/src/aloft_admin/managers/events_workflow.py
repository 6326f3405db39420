"""CreateWorkflowEvent: the data plane reports a workflow execution's phase; admin updates its closure."""

from __future__ import annotations

from datetime import datetime

from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.admin import execution_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.event import event_pb2

from aloft_admin.managers.events_common import (
    EventKind,
    check_cluster,
    occurred_at,
    seconds_between,
)
from aloft_admin.managers.executions_lookup import get_execution_row
from aloft_admin.repositories.base import Repositories
from aloft_admin.repositories.models.executions import ExecutionModel
from aloft_admin.transformers.executions import closure_of
from aloft_admin.transformers.timestamps import to_timestamp
from aloft_admin.transitions import WORKFLOW_POLICY, Transition
from aloft_admin.validation.execution_identifiers import describe_execution

WF = core.WorkflowExecution


class WorkflowEventManager(
    EventKind[event_pb2.WorkflowExecutionEvent, ExecutionModel, admin_event_pb2.WorkflowExecutionEventResponse]
):
    """CreateWorkflowEvent. Workflow events update the execution row CreateExecution made; the row carries the
    cluster to check."""

    policy = WORKFLOW_POLICY
    response = admin_event_pb2.WorkflowExecutionEventResponse

    def checked(self, event: event_pb2.WorkflowExecutionEvent) -> datetime:
        return occurred_at(event.occurred_at, "event.occurred_at")

    def describe(self, event: event_pb2.WorkflowExecutionEvent) -> str:
        return describe_execution(event.execution_id)

    async def load(self, tx: Repositories, event: event_pb2.WorkflowExecutionEvent, what: str) -> ExecutionModel:
        row = await get_execution_row(tx, event.execution_id, for_update=True)
        check_cluster(row.cluster, event.producer_id, what)
        return row

    async def create(self, tx: Repositories, event: event_pb2.WorkflowExecutionEvent, at: datetime) -> ExecutionModel:
        raise AssertionError("load answers NOT_FOUND: workflow events never create executions")

    def transition(self, row: ExecutionModel, event: event_pb2.WorkflowExecutionEvent) -> Transition:
        return Transition(WF.Phase.Value(row.phase), event.phase)

    async def apply(self, row: ExecutionModel, event: event_pb2.WorkflowExecutionEvent, at: datetime) -> None:
        closure = closure_of(row)
        closure.phase = event.phase
        row.phase = WF.Phase.Name(event.phase)
        row.execution_updated_at = at
        row.updated_at = self.clock()
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
                await self._record_result(row, closure, event)
        row.closure = closure.SerializeToString()

    async def _record_result(
        self,
        row: ExecutionModel,
        closure: execution_pb2.ExecutionClosure,
        event: event_pb2.WorkflowExecutionEvent,
    ) -> None:
        outputs = await self.offload.outputs(event, row.project, row.domain, row.name)
        if outputs is not None:
            closure.outputs.uri = outputs
        elif event.WhichOneof("output_result") == "error":
            closure.error.CopyFrom(event.error)
            row.error_kind = core.ExecutionError.ErrorKind.Name(event.error.kind)
            row.error_code = event.error.code
