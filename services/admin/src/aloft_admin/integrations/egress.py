"""Admin's egress: what recorded events cause outside admin (cloud events, notification emails).

The event skeleton (``managers.events_common.EventRecorder.record_in``) calls ``EventEgress.recorded`` once per accepted
event, inside the event's transaction. ``OutboxEgress`` stages outbox rows there (no I/O: they are inserted with the
event's own flush, so they commit or roll back with it) and wakes the dispatchers after the commit;
``integrations.dispatch`` delivers them later. So publishing never blocks or fails ingestion, and nothing accepted
is lost. ``NoEgress`` (the default) does nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol, TypeAlias

from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.admin import execution_pb2
from flyteidl.event import event_pb2

from aloft_admin.config import AdminConfig
from aloft_admin.integrations.cloudevents import published_kinds
from aloft_admin.integrations.notifications import email_messages
from aloft_admin.repositories.base import Repositories
from aloft_admin.repositories.models.executions import ExecutionModel
from aloft_admin.transitions import WORKFLOW_POLICY

log = logging.getLogger(__name__)

CLOUD_EVENTS = "cloudevents"
NOTIFICATIONS = "notifications"
EMAIL_KIND = "flyteidl.admin.EmailMessage"
WORKFLOW_REQUEST = admin_event_pb2.WorkflowExecutionEventRequest.DESCRIPTOR.full_name
NODE_REQUEST = admin_event_pb2.NodeExecutionEventRequest.DESCRIPTOR.full_name
TASK_REQUEST = admin_event_pb2.TaskExecutionEventRequest.DESCRIPTOR.full_name

AnyEvent: TypeAlias = event_pb2.WorkflowExecutionEvent | event_pb2.NodeExecutionEvent | event_pb2.TaskExecutionEvent


class EventEgress(Protocol):
    def recorded(self, tx: Repositories, event: AnyEvent, row: object) -> None:
        """``event`` was accepted in ``tx``; ``row`` is its execution (node, task execution) with it applied."""


class NoEgress:
    def recorded(self, tx: Repositories, event: AnyEvent, row: object) -> None:
        return None


class OutboxEgress:
    def __init__(self, config: AdminConfig, clock: Callable[[], datetime]) -> None:
        self._emailer = config.notifications.emailer
        self._notify = config.notifications.sending()
        self._kinds = published_kinds(config.cloudEvents) if config.cloudEvents.publishing() else frozenset()
        self._clock = clock
        self._wakers: dict[str, list[Callable[[], None]]] = {CLOUD_EVENTS: [], NOTIFICATIONS: []}

    def on_commit(self, stream: str, wake: Callable[[], None]) -> None:
        """``wake`` runs after each commit that added rows to ``stream``."""
        self._wakers[stream].append(wake)

    def recorded(self, tx: Repositories, event: AnyEvent, row: object) -> None:
        if isinstance(event, event_pb2.WorkflowExecutionEvent):
            if WORKFLOW_REQUEST in self._kinds:  # checked first: no copy of the event when nothing is published
                self._cloud_event(tx, admin_event_pb2.WorkflowExecutionEventRequest(event=event))
            if self._notify and WORKFLOW_POLICY.is_terminal(event.phase) and isinstance(row, ExecutionModel):
                try:
                    self._notifications(tx, event, row)
                except Exception:  # a notification must never fail the event (flyteadmin only logs it too)
                    log.exception("notifications of %s could not be prepared", event.execution_id.name)
        elif isinstance(event, event_pb2.NodeExecutionEvent):
            if NODE_REQUEST in self._kinds:
                self._cloud_event(tx, admin_event_pb2.NodeExecutionEventRequest(event=event))
        elif TASK_REQUEST in self._kinds:
            self._cloud_event(tx, admin_event_pb2.TaskExecutionEventRequest(event=event))

    def _cloud_event(
        self,
        tx: Repositories,
        request: admin_event_pb2.WorkflowExecutionEventRequest
        | admin_event_pb2.NodeExecutionEventRequest
        | admin_event_pb2.TaskExecutionEventRequest,
    ) -> None:
        tx.outbox.add(CLOUD_EVENTS, request.DESCRIPTOR.full_name, request.SerializeToString(), self._clock())
        tx.outbox.after_commit(CLOUD_EVENTS, lambda: self._wake(CLOUD_EVENTS))

    def _notifications(self, tx: Repositories, event: event_pb2.WorkflowExecutionEvent, row: ExecutionModel) -> None:
        closure = execution_pb2.ExecutionClosure.FromString(row.closure)
        if not closure.notifications:
            return
        execution = execution_pb2.Execution(
            id=event.execution_id, spec=execution_pb2.ExecutionSpec.FromString(row.spec), closure=closure
        )
        error = event.error if event.WhichOneof("output_result") == "error" else None
        for message in email_messages(self._emailer, event.phase, error, execution):
            tx.outbox.add(NOTIFICATIONS, EMAIL_KIND, message.SerializeToString(), self._clock())
            tx.outbox.after_commit(NOTIFICATIONS, lambda: self._wake(NOTIFICATIONS))

    def _wake(self, stream: str) -> None:
        for wake in self._wakers[stream]:
            wake()


def build_event_egress(config: AdminConfig, clock: Callable[[], datetime]) -> EventEgress:
    """The factory server.py calls: the outbox when cloud events or notifications are on, else nothing."""
    if config.cloudEvents.publishing() or config.notifications.sending():
        return OutboxEgress(config, clock)
    return NoEgress()
