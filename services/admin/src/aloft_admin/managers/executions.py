"""Get, List, Update (archive), Terminate and GetExecutionData for workflow executions."""

from __future__ import annotations

from flyteidl.admin import common_pb2, execution_pb2
from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.core import execution_pb2 as core

from aloft_admin.managers.execution_data import ExecutionData
from aloft_admin.managers.executions_handoff import CANCELLED, PENDING, Handoffs
from aloft_admin.managers.executions_lookup import get_execution_row, read_execution_row
from aloft_admin.repositories.base import RepositoryProvider
from aloft_admin.repositories.keys import ListQuery
from aloft_admin.repositories.models.executions import ExecutionModel
from aloft_admin.transformers.executions import closure_of, to_execution
from aloft_admin.transformers.timestamps import Clock, to_timestamp
from aloft_admin.transitions import WORKFLOW_POLICY
from aloft_admin.validation.execution_identifiers import describe_execution, require
from aloft_service.errors import Aborted, FailedPrecondition, InvalidArgument, Unavailable

WF = core.WorkflowExecution
STATE = execution_pb2.ExecutionState


TERMINATE_ATTEMPTS = 5


class ExecutionManager:
    def __init__(self, repos: RepositoryProvider, clock: Clock, data: ExecutionData, handoffs: Handoffs) -> None:
        self._repos = repos
        self._clock = clock
        self._data = data
        self._handoffs = handoffs

    async def get(self, request: execution_pb2.WorkflowExecutionGetRequest) -> execution_pb2.Execution:
        return to_execution(await read_execution_row(self._repos.reads, request.id))

    async def list(self, request: common_pb2.ResourceListRequest) -> execution_pb2.ExecutionList:
        require(request.id.project, "id.project")
        require(request.id.domain, "id.domain")
        async with self._repos.transaction() as tx:
            rows, token = await tx.executions.page(request.id, ListQuery.of(request))
        return execution_pb2.ExecutionList(executions=[to_execution(row) for row in rows], token=token)

    async def update(self, request: execution_pb2.ExecutionUpdateRequest) -> execution_pb2.ExecutionUpdateResponse:
        if request.state not in STATE.values():
            raise InvalidArgument(f"invalid state {request.state}")
        async with self._repos.transaction() as tx:
            row = await get_execution_row(tx, request.id, for_update=True)
            closure = closure_of(row)
            now = self._clock()
            closure.state_change_details.state = request.state
            closure.state_change_details.occurred_at.CopyFrom(to_timestamp(now))
            row.state = request.state
            row.closure = closure.SerializeToString()
            row.updated_at = now
            await tx.flush()
        return execution_pb2.ExecutionUpdateResponse()

    async def terminate(
        self, request: execution_pb2.ExecutionTerminateRequest
    ) -> execution_pb2.ExecutionTerminateResponse:
        """Record the abort (cause, ABORTING) first, then ask the data plane; the repair loop retries the ask.

        Idempotent: a terminate of an execution already ABORTING answers OK and changes nothing (the first cause
        stays, the abort is not sent again). Two concurrent terminates: PostgreSQL serializes them on the row lock;
        on SQLite the loser's version check fails and it re-reads, so it never answers ABORTED (retry-me).
        """
        for _ in range(TERMINATE_ATTEMPTS):
            try:
                row, send = await self._record_abort(request)
            except Aborted:
                continue  # a concurrent writer (event, other terminate) won: re-read
            if send:
                await self._handoffs.request_abort(row, request.cause)
            return execution_pb2.ExecutionTerminateResponse()
        raise Unavailable(f"{describe_execution(request.id)} kept changing while being aborted, retry")

    async def _record_abort(self, request: execution_pb2.ExecutionTerminateRequest) -> tuple[ExecutionModel, bool]:
        """Returns the row and whether the data plane must be asked to abort (False when nothing new was recorded)."""
        async with self._repos.transaction() as tx:
            row = await get_execution_row(tx, request.id, for_update=True)
            current = WF.Phase.Value(row.phase)
            if WORKFLOW_POLICY.is_terminal(current):
                details = admin_event_pb2.EventFailureReason(
                    already_in_terminal_state=admin_event_pb2.EventErrorAlreadyInTerminalState(current_phase=row.phase)
                )
                raise FailedPrecondition(
                    f"cannot abort {describe_execution(request.id)}: it already ended {row.phase}", details=details
                )
            if current == WF.ABORTING:
                return row, False
            now = self._clock()
            closure = closure_of(row)
            closure.abort_metadata.cause = request.cause
            closure.abort_metadata.principal = "flyteadmin"
            if row.handoff == PENDING:
                # Not (yet) accepted by a data plane: the abort completes here. A hand-off in flight that the data
                # plane accepts after this commit finds the row cancelled and aborts the held run (dispatch). An
                # earlier try may have left a held run there (admin died before committing it): the repair loop
                # sends that data plane an abort too (NOT_FOUND when it has none).
                row.handoff, target = CANCELLED, WF.ABORTED
                row.abort_pending = bool(row.cluster)
            else:
                row.abort_pending, target = True, WF.ABORTING
            closure.phase = target
            row.phase = WF.Phase.Name(target)
            row.execution_updated_at = row.updated_at = now
            row.closure = closure.SerializeToString()
            await tx.flush()
        return row, target == WF.ABORTING

    async def get_data(
        self, request: execution_pb2.WorkflowExecutionGetDataRequest
    ) -> execution_pb2.WorkflowExecutionGetDataResponse:
        async with self._repos.transaction() as tx:
            row = await get_execution_row(tx, request.id)
        closure = closure_of(row)
        inputs, full_inputs = await self._data.literal_map(row.inputs_uri)
        outputs, full_outputs = await self._data.literal_map(closure.outputs.uri)
        if closure.HasField("output_data"):
            full_outputs = closure.output_data
        return execution_pb2.WorkflowExecutionGetDataResponse(
            inputs=inputs, outputs=outputs, full_inputs=full_inputs, full_outputs=full_outputs
        )
