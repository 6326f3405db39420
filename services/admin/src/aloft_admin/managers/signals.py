"""Signal use cases (flyteadmin signal_manager.go + signal_validator.go).

- GetOrCreateSignal is idempotent: the same (execution, signal id) with the same type returns the stored signal
  (with its value once set). A different type for an existing signal is ALREADY_EXISTS (flyteadmin silently
  returns the old row; a gate node asking for another type is a bug worth surfacing).
- SetSignal type-checks the value against the stored type with Flyte's castability rules (INVALID_ARGUMENT when
  it does not fit, or when the signal does not exist, as flyteadmin). Setting again overwrites, as flyteadmin.
- ListSignals requires a workflow execution id and limit > 0; filters/sort/token as every List RPC.
"""

from __future__ import annotations

from flyteidl.admin import signal_pb2
from flyteidl.core import identifier_pb2

from aloft_admin.repositories.base import RepositoryProvider
from aloft_admin.repositories.keys import ListQuery
from aloft_admin.transformers import signals as transform
from aloft_admin.transformers.timestamps import Clock
from aloft_compiler.types import literal_matches, type_str
from aloft_service.errors import AlreadyExists, InvalidArgument


class SignalTypeConflict(AlreadyExists):
    """The signal exists with another type."""


def _missing(name: str) -> InvalidArgument:
    return InvalidArgument(f"missing {name}")


def validate_execution_id(execution: identifier_pb2.WorkflowExecutionIdentifier, field: str) -> None:
    for part in ("project", "domain", "name"):
        if not getattr(execution, part):
            raise _missing(f"{field}.{part}")


def validate_signal_id(request_id: identifier_pb2.SignalIdentifier, has_id: bool) -> None:
    if not has_id:
        raise _missing("id")
    if not request_id.HasField("execution_id"):
        raise _missing("execution_id")
    if not request_id.signal_id:
        raise _missing("signal_id")
    validate_execution_id(request_id.execution_id, "execution_id")


def signal_label(signal_id: identifier_pb2.SignalIdentifier) -> str:
    e = signal_id.execution_id
    return f"{e.project}/{e.domain}/{e.name}/{signal_id.signal_id}"


class SignalManager:
    def __init__(self, repos: RepositoryProvider, clock: Clock) -> None:
        self._repos = repos
        self._clock = clock

    async def get_or_create(self, request: signal_pb2.SignalGetOrCreateRequest) -> signal_pb2.Signal:
        validate_signal_id(request.id, request.HasField("id"))
        if not request.HasField("type"):
            raise _missing("type")
        try:
            return await self._get_or_create_once(request)
        except SignalTypeConflict:
            raise
        except AlreadyExists:
            # A concurrent caller inserted the same signal between our read and insert: read theirs.
            return await self._get_or_create_once(request)

    async def _get_or_create_once(self, request: signal_pb2.SignalGetOrCreateRequest) -> signal_pb2.Signal:
        wanted = request.type.SerializeToString(deterministic=True)
        async with self._repos.transaction() as tx:
            row = await tx.signals.get(request.id)
            if row is None:
                row = await tx.signals.add(transform.to_model(request.id, request.type, self._clock()))
            elif row.type != wanted:
                raise SignalTypeConflict(
                    f"signal [{signal_label(request.id)}] already exists with type "
                    f"[{type_str(transform.stored_type(row))}], not [{type_str(request.type)}]"
                )
            return transform.from_model(row)

    async def set(self, request: signal_pb2.SignalSetRequest) -> signal_pb2.SignalSetResponse:
        validate_signal_id(request.id, request.HasField("id"))
        if not request.HasField("value"):
            raise _missing("value")
        async with self._repos.transaction() as tx:
            row = await tx.signals.get(request.id)
            if row is None:
                raise InvalidArgument(f"failed to validate that signal [{signal_label(request.id)}] exists")
            expected = transform.stored_type(row)
            if not literal_matches(request.value, expected):
                raise InvalidArgument(
                    f"requested signal value is not castable to existing signal type [{type_str(expected)}] "
                    f"of signal [{signal_label(request.id)}]"
                )
            await tx.signals.set_value(row, request.value.SerializeToString(deterministic=True), self._clock())
        return signal_pb2.SignalSetResponse()

    async def list(self, request: signal_pb2.SignalListRequest) -> signal_pb2.SignalList:
        if not request.HasField("workflow_execution_id"):
            raise _missing("workflow_execution_id")
        validate_execution_id(request.workflow_execution_id, "workflow_execution_id")
        async with self._repos.transaction() as tx:
            rows, token = await tx.signals.page(request.workflow_execution_id, ListQuery.of(request))
            return signal_pb2.SignalList(signals=[transform.from_model(r) for r in rows], token=token)
