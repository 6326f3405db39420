"""One workflow round (load → deliver leftovers → evaluate → persist with version check → deliver events) and a
streak of rounds for a workflow that keeps making progress (``max-streak-length``)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from aloft.dataplane.v1 import dataplane_pb2

from aloft_propeller.controller import metrics
from aloft_propeller.controller.delivery import deliver_outbox
from aloft_propeller.events import builders
from aloft_propeller.events.recorder import OutboxRecorder
from aloft_propeller.events.sink import EventSink
from aloft_propeller.execution_error import ErrorKind, ExecutionError
from aloft_propeller.state import NodePhase, WorkflowPhase, WorkflowState
from aloft_propeller.store.base import ExecutionKey, WorkflowRecord
from aloft_propeller.store.cached import CachedWorkflowStore
from aloft_propeller.workflow import WorkflowExecutor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoundOutcome:
    changed: bool
    terminal: bool


def _labels(record: WorkflowRecord, workflow_name: str) -> tuple[str, str, str]:
    return (record.key.project, record.key.domain, workflow_name)


def _observe(record: WorkflowRecord, before: WorkflowState, after: WorkflowState, workflow_name: str) -> None:
    labels = _labels(record, workflow_name)
    if before.phase == WorkflowPhase.READY and after.phase != WorkflowPhase.READY:
        elapsed = after.updated_at or time.time()
        metrics.acceptance_latency.labels(*labels).observe(max(elapsed - record.created_at.timestamp(), 0) * 1000)
    last_node_end = 0.0
    previous_end = max(
        [n.updated_at or 0.0 for n in before.nodes.values() if n.phase.is_terminal] + [after.started_at or 0.0]
    )
    for path, node in after.nodes.items():
        old = before.nodes.get(path)
        old_phase = old.phase if old else NodePhase.NOT_YET_STARTED
        if node.phase == old_phase:
            continue
        started = node.started_at or 0.0
        updated = node.updated_at or started
        last_node_end = max(last_node_end, updated)
        if node.phase == NodePhase.SUCCEEDED:
            metrics.node_success_duration.labels(*labels).observe((updated - started) * 1000)
        elif node.phase in (NodePhase.FAILED, NodePhase.TIMED_OUT):
            metrics.node_failure_duration.labels(*labels).observe((updated - started) * 1000)
        elif node.phase == NodePhase.QUEUED and previous_end:
            metrics.transition_latency.labels(*labels).observe(max(started - previous_end, 0) * 1000)
        elif node.phase == NodePhase.RUNNING and old_phase == NodePhase.QUEUED:
            metrics.queueing_latency.labels(*labels).observe((updated - started) * 1000)
    if after.phase.is_terminal and not before.phase.is_terminal and after.updated_at and last_node_end:
        metrics.completion_latency.labels(*labels).observe(max(after.updated_at - last_node_end, 0) * 1000)


class RoundRunner:
    """Reads and writes through ``store``, a CachedWorkflowStore: rounds that change nothing skip the read."""

    def __init__(
        self, store: CachedWorkflowStore, executor: WorkflowExecutor, sink: EventSink, producer_id: str = "default"
    ) -> None:
        self._producer_id = producer_id
        self._store = store
        self._executor = executor
        self._sink = sink

    def invalidate(self, key: ExecutionKey) -> None:
        """Someone else wrote the execution (the controller calls this for every API write)."""
        self._store.invalidate(key)

    async def run_round(self, key: ExecutionKey) -> RoundOutcome:
        try:
            return await self._run_round(key)
        except BaseException:
            self.invalidate(key)
            raise

    async def _run_round(self, key: ExecutionKey) -> RoundOutcome:
        record = await self._store.get(key)
        record = await deliver_outbox(record, self._sink, self._store)
        self._store.remember(record)  # delivery may empty the outbox without a write: keep that for the next round
        if record.terminal:
            return RoundOutcome(changed=False, terminal=True)
        before = record.state
        before_json = before.to_json()  # serialized once: a large workflow's state costs milliseconds to encode
        state = WorkflowState.from_json(before_json)
        started = time.perf_counter()
        ectx = await self._executor.context(record, state, time.time())
        await self._executor.evaluate(ectx)
        workflow_name = ectx.request.workflow_id.name
        metrics.round_latency.labels(*_labels(record, workflow_name)).observe(time.perf_counter() - started)
        after_json = state.to_json()
        if after_json == before_json:
            return RoundOutcome(changed=False, terminal=False)
        record = await self._store.update(record.with_state(state), encoded=after_json)
        _observe(record, before, state, workflow_name)
        record = await deliver_outbox(record, self._sink, self._store)
        self._store.remember(record)
        return RoundOutcome(changed=True, terminal=record.terminal)

    async def fail(self, key: ExecutionKey, message: str) -> None:
        """Fail a workflow whose evaluation keeps raising (max-workflow-retries): record FAILED and its event."""
        self.invalidate(key)
        record = await self._store.get(key)
        if record.state.phase.is_terminal:
            return
        state = WorkflowState.from_json(record.state.to_json())
        request = dataplane_pb2.CreateExecutionRequest.FromString(record.spec)
        state.error = ExecutionError("RoundFailure", message, ErrorKind.SYSTEM)
        state.phase = WorkflowPhase.FAILED
        state.updated_at = time.time()
        event = builders.workflow_event(
            request.id, self._producer_id, WorkflowPhase.FAILED, state.updated_at, "", state.error
        )
        OutboxRecorder(state).workflow(event)
        await self._store.update(record.with_state(state))
