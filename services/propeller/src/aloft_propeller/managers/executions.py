"""Data-plane use cases behind aloft.dataplane.v1: accept, abort, inspect and list executions."""

from __future__ import annotations

from collections.abc import Callable

from aloft.dataplane.v1 import dataplane_pb2

from aloft_propeller.state import WorkflowState
from aloft_propeller.store.base import ExecutionKey, StaleRecord, WorkflowRecord, WorkflowStore
from aloft_propeller.transformers import to_execution_status
from aloft_service.errors import InvalidArgument

_UPDATE_ATTEMPTS = 10
_MAX_PAGE = 1000


def _key(execution_id: object, field: str) -> ExecutionKey:
    for part in ("project", "domain", "name"):
        if not getattr(execution_id, part):
            raise InvalidArgument(f"{field}.{part} is required")
    return ExecutionKey(execution_id.project, execution_id.domain, execution_id.name)  # type: ignore[attr-defined]


def validate_create(request: dataplane_pb2.CreateExecutionRequest) -> ExecutionKey:
    key = _key(request.id, "id")
    which = request.WhichOneof("closure")
    if which is None:
        raise InvalidArgument("closure: one of compiled_closure or closure_uri is required")
    if which == "compiled_closure" and not request.compiled_closure.primary.template.nodes:
        raise InvalidArgument("compiled_closure.primary.template: the workflow has no nodes")
    if request.config.max_parallelism < 0:
        raise InvalidArgument("config.max_parallelism must not be negative")
    return key


class ExecutionManager:
    def __init__(self, store: WorkflowStore, cluster_id: str, on_change: Callable[[ExecutionKey], None]) -> None:
        self._store = store
        self._cluster_id = cluster_id
        self._on_change = on_change

    async def create(self, request: dataplane_pb2.CreateExecutionRequest) -> dataplane_pb2.CreateExecutionResponse:
        key = validate_create(request)
        record = WorkflowRecord(
            key=key,
            spec=request.SerializeToString(deterministic=True),
            state=WorkflowState(held=request.hold),
            cluster=request.cluster or self._cluster_id,
        )
        stored, existed = await self._store.create(record)
        if not existed and not request.hold:
            self._on_change(key)
        return dataplane_pb2.CreateExecutionResponse(shard_key=stored.shard_key, already_existed=existed)

    async def abort(self, request: dataplane_pb2.AbortExecutionRequest) -> dataplane_pb2.AbortExecutionResponse:
        cause = request.cause or "aborted"

        def record_cause(state: WorkflowState) -> bool:
            if state.phase.is_terminal or state.abort_cause:
                return False
            state.abort_cause = cause
            return True

        await self._change_state(_key(request.id, "id"), record_cause, "abort")
        return dataplane_pb2.AbortExecutionResponse()

    async def start(self, request: dataplane_pb2.StartExecutionRequest) -> dataplane_pb2.StartExecutionResponse:
        """Release a held execution; a no-op when it is not held (started, aborted or finished)."""

        def release(state: WorkflowState) -> bool:
            if not state.held:
                return False
            state.held = False
            return True

        await self._change_state(_key(request.id, "id"), release, "start")
        return dataplane_pb2.StartExecutionResponse()

    async def _change_state(self, key: ExecutionKey, change: Callable[[WorkflowState], bool], what: str) -> None:
        """Apply ``change`` (False: nothing to do) to the stored state, re-reading when the controller wrote first."""
        for _ in range(_UPDATE_ATTEMPTS):
            record = await self._store.get(key)
            state = WorkflowState.from_json(record.state.to_json())
            if not change(state):
                return
            try:
                await self._store.update(record.with_state(state))
            except StaleRecord:
                continue
            self._on_change(key)
            return
        raise StaleRecord(f"execution {key} kept changing; {what} not recorded, retry")

    async def get_status(self, request: dataplane_pb2.GetExecutionStatusRequest) -> dataplane_pb2.ExecutionStatus:
        record = await self._store.get(_key(request.id, "id"))
        return to_execution_status(record)

    async def list(self, request: dataplane_pb2.ListExecutionsRequest) -> dataplane_pb2.ListExecutionsResponse:
        if request.limit > _MAX_PAGE:
            raise InvalidArgument(f"limit must be at most {_MAX_PAGE}")
        page = await self._store.page(request.limit or 100, request.token, request.only_active)
        return dataplane_pb2.ListExecutionsResponse(
            executions=[to_execution_status(record) for record in page.records], token=page.next_token
        )
