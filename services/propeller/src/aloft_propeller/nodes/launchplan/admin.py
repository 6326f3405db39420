"""Child executions through admin's AdminService (flytepropeller nodes/subworkflow/launchplan/admin.go).

The child's name is derived from the parent execution, the node path and the attempt, so a replayed launch after a
crash meets ALREADY_EXISTS and adopts the child it already created.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import grpc
from flyteidl.admin import common_pb2, execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2, security_pb2

from aloft_propeller.admin_channel import LazyAdminStub
from aloft_service.errors import Unavailable

# flytepropeller's maxLengthForSubWorkflow: room for admin's own suffixes within Kubernetes name limits.
CHILD_NAME_LENGTH = 20
_TRANSIENT = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED)
_CALL_TIMEOUT = 10.0


def child_execution_name(parent_name: str, node_path: str, attempt: int) -> str:
    """A short, deterministic, DNS-safe name: ``f`` + a base32 hash of ``{parent}-{node path}-{attempt}``."""
    digest = hashlib.sha256(f"{parent_name}-{node_path}-{attempt}".encode()).digest()
    encoded = base64.b32encode(digest).decode().lower().rstrip("=")
    return ("f" + encoded)[:CHILD_NAME_LENGTH]


@dataclass(frozen=True)
class LaunchRequest:
    child_id: identifier_pb2.WorkflowExecutionIdentifier
    launch_plan: identifier_pb2.Identifier
    inputs: literals_pb2.LiteralMap
    parent_node: identifier_pb2.NodeExecutionIdentifier
    principal: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    envs: dict[str, str] = field(default_factory=dict)
    max_parallelism: int = 0
    overwrite_cache: bool = False
    raw_output_prefix: str = ""
    security_context: security_pb2.SecurityContext | None = None


@dataclass(frozen=True)
class ChildStatus:
    phase: int  # flyteidl.core.WorkflowExecution.Phase
    error: core_execution_pb2.ExecutionError | None = None
    outputs_uri: str = ""
    inline_outputs: literals_pb2.LiteralMap | None = None


class Launcher(Protocol):
    async def launch(self, request: LaunchRequest) -> None: ...

    async def status(self, child_id: identifier_pb2.WorkflowExecutionIdentifier) -> ChildStatus: ...

    async def outputs(self, child_id: identifier_pb2.WorkflowExecutionIdentifier) -> literals_pb2.LiteralMap: ...

    async def terminate(self, child_id: identifier_pb2.WorkflowExecutionIdentifier, cause: str) -> None: ...


class LaunchRejected(Exception):
    """Admin refused the child for good (unknown launch plan, bad inputs ...): the node fails."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ParentNotRecorded(Exception):
    """Admin has not yet recorded the parent node execution (its events are still on their way)."""


def _spec(request: LaunchRequest) -> execution_pb2.ExecutionSpec:
    spec = execution_pb2.ExecutionSpec(
        launch_plan=request.launch_plan,
        metadata=execution_pb2.ExecutionMetadata(
            mode=execution_pb2.ExecutionMetadata.CHILD_WORKFLOW,
            principal=request.principal,
            parent_node_execution=request.parent_node,
        ),
        max_parallelism=request.max_parallelism,
        overwrite_cache=request.overwrite_cache,
    )
    if request.labels:
        spec.labels.CopyFrom(common_pb2.Labels(values=request.labels))
    if request.annotations:
        spec.annotations.CopyFrom(common_pb2.Annotations(values=request.annotations))
    if request.envs:
        spec.envs.values.extend(literals_pb2.KeyValuePair(key=k, value=v) for k, v in sorted(request.envs.items()))
    if request.raw_output_prefix:
        spec.raw_output_data_config.output_location_prefix = request.raw_output_prefix
    if request.security_context is not None and request.security_context.ByteSize():
        spec.security_context.CopyFrom(request.security_context)
    return spec


class AdminLauncher:
    """The Launcher over gRPC to admin (``propeller.adminEndpoint``); the channel opens on first use."""

    def __init__(self, endpoint: str, interceptors: Sequence[grpc.aio.ClientInterceptor] = ()) -> None:
        self._admin = LazyAdminStub(endpoint, interceptors)

    async def launch(self, request: LaunchRequest) -> None:
        create = execution_pb2.ExecutionCreateRequest(
            project=request.child_id.project,
            domain=request.child_id.domain,
            name=request.child_id.name,
            org=request.child_id.org,
            spec=_spec(request),
            inputs=request.inputs,
        )
        try:
            await self._admin().CreateExecution(create, timeout=_CALL_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.ALREADY_EXISTS:
                return  # launched before (a replay after a crash): adopt it
            if exc.code() == grpc.StatusCode.NOT_FOUND and "node execution" in (exc.details() or "").lower():
                raise ParentNotRecorded(exc.details() or "") from exc
            raise _classified(exc, "launching the child execution") from exc

    async def status(self, child_id: identifier_pb2.WorkflowExecutionIdentifier) -> ChildStatus:
        try:
            execution = await self._admin().GetExecution(
                execution_pb2.WorkflowExecutionGetRequest(id=child_id), timeout=_CALL_TIMEOUT
            )
        except grpc.aio.AioRpcError as exc:
            raise _classified(exc, "reading the child execution") from exc
        closure = execution.closure
        error = closure.error if closure.HasField("error") else None
        inline = closure.output_data if closure.HasField("output_data") else None
        return ChildStatus(closure.phase, error, closure.outputs.uri, inline)

    async def outputs(self, child_id: identifier_pb2.WorkflowExecutionIdentifier) -> literals_pb2.LiteralMap:
        try:
            data = await self._admin().GetExecutionData(
                execution_pb2.WorkflowExecutionGetDataRequest(id=child_id), timeout=_CALL_TIMEOUT
            )
        except grpc.aio.AioRpcError as exc:
            raise _classified(exc, "reading the child's outputs") from exc
        return data.full_outputs

    async def terminate(self, child_id: identifier_pb2.WorkflowExecutionIdentifier, cause: str) -> None:
        request = execution_pb2.ExecutionTerminateRequest(id=child_id, cause=cause)
        try:
            await self._admin().TerminateExecution(request, timeout=_CALL_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION):
                return  # never launched, or already terminal: nothing left to stop
            raise _classified(exc, "terminating the child execution") from exc

    async def close(self) -> None:
        await self._admin.close()


def _classified(exc: grpc.aio.AioRpcError, doing: str) -> Exception:
    """Transient admin trouble postpones the round (Unavailable); anything else is a refusal for good."""
    if exc.code() in _TRANSIENT:
        return Unavailable(f"{doing} failed: admin is unavailable ({exc.details()})")
    return LaunchRejected(exc.code(), f"{doing} failed: {exc.code().name}: {exc.details()}")
