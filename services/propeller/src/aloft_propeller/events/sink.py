"""Delivery of flyteidl events to admin's AdminService over gRPC, with retries and backoff.

Outcomes (flytepropeller's event error handling): OK and ALREADY_EXISTS are delivered (admin dedups a replay);
FAILED_PRECONDITION carrying ``EventFailureReason.already_in_terminal_state`` or ``incompatible_cluster`` is a
refusal the caller must honour (stop sending for that entity / stop the workflow); other FAILED_PRECONDITION
and INVALID_ARGUMENT answers are rejected for good (never retried forever). Transient errors are retried
``attempts`` times, then ``Unavailable`` is raised so the controller requeues the workflow with backoff.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import logging
from collections.abc import Sequence
from typing import Protocol

import grpc
from aloft.events.v1 import events_pb2, events_pb2_grpc
from aloft_auth.mtls import aio_channel
from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.event import event_pb2
from flyteidl.service import admin_pb2_grpc
from google.rpc import status_pb2

from aloft_service.errors import Unavailable

log = logging.getLogger(__name__)

_STATUS_DETAILS_KEY = "grpc-status-details-bin"
_REJECTED_FOR_GOOD = (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION)


class Delivery(enum.Enum):
    DELIVERED = "DELIVERED"
    ALREADY_TERMINAL = "ALREADY_TERMINAL"
    INCOMPATIBLE_CLUSTER = "INCOMPATIBLE_CLUSTER"
    REJECTED = "REJECTED"


class EventSink(Protocol):
    async def send(self, kind: str, payload: bytes) -> Delivery: ...

    async def close(self) -> None: ...


class BatchEventSink(EventSink, Protocol):
    async def send_batch(self, events: Sequence[tuple[str, bytes]]) -> list[Delivery | None] | None:
        """Outcomes in order (None: not recorded, send again later), or None when the receiver takes no batches.
        Raises ``Unavailable`` when the batch could not be recorded at all."""
        ...


def failure_reason(error: grpc.aio.AioRpcError) -> admin_event_pb2.EventFailureReason | None:
    for key, value in error.trailing_metadata() or ():
        if key != _STATUS_DETAILS_KEY:
            continue
        status = status_pb2.Status.FromString(value if isinstance(value, bytes) else value.encode())
        for detail in status.details:
            reason = admin_event_pb2.EventFailureReason()
            if detail.Unpack(reason):
                return reason
    return None


def classify(error: grpc.aio.AioRpcError) -> Delivery | None:
    """The final outcome of a failed call, or None when it is worth retrying."""
    code = error.code()
    return classify_code(code, failure_reason(error) if code == grpc.StatusCode.FAILED_PRECONDITION else None)


def classify_code(code: grpc.StatusCode, reason: admin_event_pb2.EventFailureReason | None) -> Delivery | None:
    """One event's outcome from admin's status code (and refusal reason), or None when it is worth retrying."""
    if code in (grpc.StatusCode.OK, grpc.StatusCode.ALREADY_EXISTS):
        return Delivery.DELIVERED
    if code == grpc.StatusCode.FAILED_PRECONDITION:
        if reason is not None and reason.HasField("already_in_terminal_state"):
            return Delivery.ALREADY_TERMINAL
        if reason is not None and reason.HasField("incompatible_cluster"):
            return Delivery.INCOMPATIBLE_CLUSTER
    if code in _REJECTED_FOR_GOOD:
        return Delivery.REJECTED
    return None


class AdminEventSink:
    def __init__(
        self,
        endpoint: str,
        attempts: int = 5,
        base_delay: float = 0.1,
        max_delay: float = 2.0,
        interceptors: Sequence[grpc.aio.ClientInterceptor] = (),
    ) -> None:
        self._channel = aio_channel(endpoint, interceptors)  # tokens and mTLS credentials (OutgoingCalls)
        self._stub = admin_pb2_grpc.AdminServiceStub(self._channel)
        self._batches: events_pb2_grpc.EventServiceStub | None = events_pb2_grpc.EventServiceStub(self._channel)
        self._attempts = attempts
        self._base_delay = base_delay
        self._max_delay = max_delay

    async def send_batch(self, events: Sequence[tuple[str, bytes]]) -> list[Delivery | None] | None:
        """aloft.events.v1 RecordEvents; None once admin answers UNIMPLEMENTED (an admin without batches)."""
        if self._batches is None:
            return None
        request = events_pb2.RecordEventsRequest(events=[_batch_event(kind, payload) for kind, payload in events])
        last: grpc.aio.AioRpcError | None = None
        for attempt in range(self._attempts):
            try:
                response = await self._batches.RecordEvents(request, timeout=30)
                return [
                    _batch_outcome(kind, outcome) for (kind, _), outcome in zip(events, response.outcomes, strict=True)
                ]
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                    log.info("admin has no batched event API; sending events one at a time")
                    self._batches = None
                    return None
                if classify(exc) is not None:  # refused as a whole: let the events go one at a time this once
                    log.warning("admin refused an event batch (%s); sending its events one at a time", exc.details())
                    return None
                last = exc
            await asyncio.sleep(min(self._base_delay * 2**attempt, self._max_delay))
        detail = last.details() if last is not None else ""
        raise Unavailable(f"sending {len(events)} events to admin failed after {self._attempts} attempts: {detail}")

    async def send(self, kind: str, payload: bytes) -> Delivery:
        request_id = hashlib.sha1(payload).hexdigest()
        last: grpc.aio.AioRpcError | None = None
        for attempt in range(self._attempts):
            try:
                await self._call(kind, request_id, payload)
                return Delivery.DELIVERED
            except grpc.aio.AioRpcError as exc:
                outcome = classify(exc)
                if outcome is not None:
                    if outcome != Delivery.DELIVERED:
                        log.warning("admin refused %s event (%s): %s", kind, outcome.value, exc.details())
                    return outcome
                last = exc
            await asyncio.sleep(min(self._base_delay * 2**attempt, self._max_delay))
        detail = last.details() if last is not None else ""
        raise Unavailable(f"sending {kind} event to admin failed after {self._attempts} attempts: {detail}")

    async def _call(self, kind: str, request_id: str, payload: bytes) -> None:
        if kind == "workflow":
            workflow = event_pb2.WorkflowExecutionEvent.FromString(payload)
            await self._stub.CreateWorkflowEvent(
                admin_event_pb2.WorkflowExecutionEventRequest(request_id=request_id, event=workflow), timeout=10
            )
        elif kind == "node":
            node = event_pb2.NodeExecutionEvent.FromString(payload)
            await self._stub.CreateNodeEvent(
                admin_event_pb2.NodeExecutionEventRequest(request_id=request_id, event=node), timeout=10
            )
        else:
            task = event_pb2.TaskExecutionEvent.FromString(payload)
            await self._stub.CreateTaskEvent(
                admin_event_pb2.TaskExecutionEventRequest(request_id=request_id, event=task), timeout=10
            )

    async def close(self) -> None:
        await self._channel.close()


_STATUS_CODES = {code.value[0]: code for code in grpc.StatusCode}


def _batch_event(kind: str, payload: bytes) -> events_pb2.Event:
    request_id = hashlib.sha1(payload).hexdigest()
    if kind == "workflow":
        return events_pb2.Event(request_id=request_id, workflow=event_pb2.WorkflowExecutionEvent.FromString(payload))
    if kind == "node":
        return events_pb2.Event(request_id=request_id, node=event_pb2.NodeExecutionEvent.FromString(payload))
    return events_pb2.Event(request_id=request_id, task=event_pb2.TaskExecutionEvent.FromString(payload))


def _batch_outcome(kind: str, outcome: events_pb2.EventOutcome) -> Delivery | None:
    code = _STATUS_CODES.get(outcome.code, grpc.StatusCode.UNKNOWN)
    delivery = classify_code(code, outcome.failure_reason if outcome.HasField("failure_reason") else None)
    if delivery not in (None, Delivery.DELIVERED):
        log.warning("admin refused %s event (%s): %s", kind, delivery.value if delivery else "", outcome.message)
    return delivery
