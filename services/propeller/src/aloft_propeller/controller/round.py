"""One workflow round (load → take in the last delivery's answers → evaluate → persist with version check → hand the
outbox to a delivery in the background) and a streak of rounds for a workflow that keeps making progress
(``max-streak-length``).

Events go to admin off the round's critical path: a round persists its events in the outbox first (nothing is sent
before it is durable here), then one delivery per workflow sends the outbox while the next rounds evaluate; when it
ends the workflow is woken, and its next round drops what admin acknowledged (written with that round, even one
that changes nothing else: a record read again from the store, after the cache dropped it, must not bring back
events admin already took, for admin records a re-sent QUEUED after RUNNING as new) and acts on any refusal. A delivery
that failed (admin down) is retried at the start of the next round, before evaluating, as a synchronous delivery:
a workflow whose events admin cannot take makes no further progress until it can.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from aloft.dataplane.v1 import dataplane_pb2

from aloft_propeller.controller import metrics
from aloft_propeller.controller.delivery import deliver_outbox, fold, send_outbox
from aloft_propeller.events import builders
from aloft_propeller.events.recorder import OutboxRecorder
from aloft_propeller.events.sink import Delivery, EventSink
from aloft_propeller.execution_error import ErrorKind, ExecutionError
from aloft_propeller.state import NodeChange, NodePhase, OutboxEvent, StateEncoder, WorkflowPhase, WorkflowState
from aloft_propeller.store.base import ExecutionKey, WorkflowRecord
from aloft_propeller.store.cached import CachedWorkflowStore
from aloft_propeller.workflow import WorkflowExecutor

log = logging.getLogger(__name__)


# Events admin took leave the store with the round's next write, not in a write of their own; if no round writes
# within this delay, one writes just that. Until then a record read again from the store (after an invalidation) has
# them dropped here, as they were from the cached one; a crash in between sends them again, as a crash between a
# delivery and its write always did.
ACK_WRITE_DELAY = 0.05

# ``RoundOutcome.next_poll`` of a workflow that waits for a wake-up (a delivery's end): the controller polls it only
# as a fallback, after downstream-eval-duration.
UNTIL_WOKEN = float("inf")


@dataclass(frozen=True)
class RoundOutcome:
    changed: bool
    terminal: bool
    visited: int = 0  # top-level nodes the round visited (nodes/frontier.py)
    full: bool = False  # the round walked every node
    # Seconds until the workflow has anything due (nodes/frontier.py); None: unknown, poll with backoff.
    next_poll: float | None = None
    # Seconds until delivered events, still stored, must be dropped from the store (``ACK_WRITE_DELAY``).
    flush_in: float | None = None


def _labels(record: WorkflowRecord, workflow_name: str) -> tuple[str, str, str]:
    return (record.key.project, record.key.domain, workflow_name)


def _observe(
    record: WorkflowRecord,
    before_phase: WorkflowPhase,
    after: WorkflowState,
    changes: list[NodeChange],
    workflow_name: str,
) -> None:
    """Flyte's round metrics, from the nodes the round changed (transition latency: ``_observe_transitions``)."""
    labels = _labels(record, workflow_name)
    if before_phase == WorkflowPhase.READY and after.phase != WorkflowPhase.READY:
        elapsed = after.updated_at or time.time()
        metrics.acceptance_latency.labels(*labels).observe(max(elapsed - record.created_at.timestamp(), 0) * 1000)
    last_node_end = 0.0
    for change in changes:
        node, old_phase = change.node, change.before
        if node.phase == old_phase:
            continue
        started = node.started_at or 0.0
        updated = node.updated_at or started
        last_node_end = max(last_node_end, updated)
        if node.phase == NodePhase.SUCCEEDED:
            metrics.node_success_duration.labels(*labels).observe((updated - started) * 1000)
        elif node.phase in (NodePhase.FAILED, NodePhase.TIMED_OUT):
            metrics.node_failure_duration.labels(*labels).observe((updated - started) * 1000)
        elif node.phase == NodePhase.RUNNING and old_phase == NodePhase.QUEUED:
            metrics.queueing_latency.labels(*labels).observe((updated - started) * 1000)
    if after.phase.is_terminal and not before_phase.is_terminal and after.updated_at and last_node_end:
        metrics.completion_latency.labels(*labels).observe(max(after.updated_at - last_node_end, 0) * 1000)


def _observe_transitions(record: WorkflowRecord, workflow_name: str, transitions: list[float]) -> None:
    """Flyte's transition latency of each node the round started (``ExecutionContext.transitions``)."""
    if transitions:
        histogram = metrics.transition_latency.labels(*_labels(record, workflow_name))
        for seconds in transitions:
            histogram.observe(seconds * 1000)


_Sent = list[tuple[OutboxEvent, Delivery | None]]


class RoundRunner:
    """Reads and writes through ``store``, a CachedWorkflowStore: rounds that change nothing skip the read."""

    def __init__(
        self,
        store: CachedWorkflowStore,
        executor: WorkflowExecutor,
        sink: EventSink,
        producer_id: str = "default",
        background_delivery: bool = True,
    ) -> None:
        self._producer_id = producer_id
        self._store = store
        self._executor = executor
        self._sink = sink
        self._background = background_delivery
        self._deliveries: dict[ExecutionKey, asyncio.Task[_Sent]] = {}
        self._on_delivered: Callable[[ExecutionKey], None] = lambda key: None
        self._encoders: dict[ExecutionKey, StateEncoder] = {}
        # Per execution: the last event sequence number admin took whose drop is not written yet, and since when.
        self._acked: dict[ExecutionKey, tuple[int, float]] = {}
        # Set by tests: every incremental encoding is checked against a whole one.
        self.check_encoding = bool(os.environ.get("ALOFT_PROPELLER_CHECK_ENCODING"))

    def on_delivered(self, callback: Callable[[ExecutionKey], None]) -> None:
        """Called when a background delivery ends: the workflow's next round takes in admin's answers."""
        self._on_delivered = callback

    def invalidate(self, key: ExecutionKey) -> None:
        """Someone else wrote the execution (the controller calls this for every API write), or a round failed:
        the next round reads the store and walks the whole DAG."""
        self._store.invalidate(key)
        self._executor.drop_frontier(key)
        self._encoders.pop(key, None)

    def wake_node(self, key: ExecutionKey, path: str) -> None:
        """Node ``path`` of the execution has news (a task process exited): its next round visits it."""
        self._executor.wake_node(key, path)

    def wake_all(self, key: ExecutionKey) -> None:
        """Some task of the execution has news, which one is unknown: its next round polls every active node."""
        self._executor.wake_node(key, "")

    async def close(self) -> None:
        """Stop deliveries in flight: their events stay in the persisted outbox and are sent after a restart."""
        tasks = list(self._deliveries.values())
        self._deliveries.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task

    async def run_round(self, key: ExecutionKey) -> RoundOutcome:
        try:
            return await self._run_round(key)
        except BaseException:
            self.invalidate(key)
            raise

    async def _run_round(self, key: ExecutionKey) -> RoundOutcome:
        record = await self._store.get(key)
        reread = self._drop_acked(record)
        record, unwritten = await self._take_in_delivery(record)
        unwritten = unwritten or reread
        if record.state.phase.is_terminal:  # nothing to evaluate: the last events go out now
            return await self._finish(record)
        # Evaluated in place (a failed round or write invalidates the record, and the next round reads the store);
        # encoded incrementally: only the nodes the round touched are encoded again, and written if they changed.
        state = record.state
        encoder = self._encoder(record)
        encoder.encode(state)
        before_phase = state.phase
        started = time.perf_counter()
        ectx = await self._executor.context(record, state, time.time(), encoder.running_tasks)
        await self._executor.evaluate(ectx)
        workflow_name = ectx.request.workflow_id.name
        metrics.round_latency.labels(*_labels(record, workflow_name)).observe(time.perf_counter() - started)
        changed, changes = encoder.encode(state)
        if self.check_encoding:
            encoder.check(state)
        acked = self._acked.get(key)
        flush = unwritten or (acked is not None and time.monotonic() - acked[1] >= ACK_WRITE_DELAY)
        delta = encoder.delta(state, force=flush, defer_drops=True)
        if delta is not None:
            record = await self._store.update(record.with_state(state), delta)
            encoder.written(state, delta)
            if delta.drop_before is not None:
                self._acked.pop(key, None)
        if changed:
            _observe(record, before_phase, state, changes, workflow_name)
        _observe_transitions(record, workflow_name, ectx.transitions)
        if not self._background:
            record = await deliver_outbox(record, self._sink, self._store)
        self._executor.keep_frontier(key, ectx.frontier, record.resource_version)
        self._store.remember(record)
        self._start_delivery(record)
        frontier = ectx.frontier
        visited, full = (frontier.stats.visited, frontier.stats.full) if frontier is not None else (0, True)
        due = frontier.due if frontier is not None else None
        next_poll = max(due - time.time(), 0.0) if due is not None else None
        acked = self._acked.get(key)
        flush_in = max(acked[1] + ACK_WRITE_DELAY - time.monotonic(), 0.0) if acked is not None else None
        return RoundOutcome(changed, record.terminal, visited, full, next_poll, flush_in)

    def _drop_acked(self, record: WorkflowRecord) -> bool:
        """A record read again from the store still holds the events admin took whose drop is not written yet: drop
        them (as the cached record had), after its encoder took the stored state. True if any were."""
        acked = self._acked.get(record.key)
        outbox = record.state.outbox
        if acked is None or not outbox or outbox[0].seq > acked[0]:
            return False
        self._encoder(record)
        record.state.outbox = [event for event in outbox if event.seq > acked[0]]
        return True

    async def _finish(self, record: WorkflowRecord) -> RoundOutcome:
        """A terminal workflow's round: its last events go out in the background like any others (the round does
        not wait for them; the delivery's end wakes the workflow, whose next round takes in the answers)."""
        key = record.key
        self._executor.drop_frontier(key)
        self._encoders.pop(key, None)
        if key in self._deliveries:
            return RoundOutcome(changed=False, terminal=False, next_poll=UNTIL_WOKEN)
        if self._background and record.state.outbox:
            self._store.remember(record)
            self._start_delivery(record)
            return RoundOutcome(changed=False, terminal=False, next_poll=UNTIL_WOKEN)
        record = await deliver_outbox(record, self._sink, self._store)
        self._store.remember(record)
        if record.terminal:
            self._acked.pop(key, None)
        return RoundOutcome(changed=False, terminal=record.terminal)

    def _encoder(self, record: WorkflowRecord) -> StateEncoder:
        """The execution's encoder; a new one takes ``record`` (as stored) for what the store holds."""
        encoder = self._encoders.get(record.key)
        if encoder is None:
            encoder = self._encoders[record.key] = StateEncoder(record.state)
        return encoder

    async def _take_in_delivery(self, record: WorkflowRecord) -> tuple[WorkflowRecord, bool]:
        """Fold the answers of the workflow's last background delivery, once it ended, into the record. What it
        could not deliver is sent again here, before the round evaluates, and the round fails (backing off) while
        admin cannot take it. True when the record's outbox is shorter than the stored one: the round must write
        it."""
        task = self._deliveries.get(record.key)
        if task is None or not task.done():
            return record, False
        del self._deliveries[record.key]
        try:
            sent = await task
        except Exception:  # sending reports failures as outcomes; anything else: send again, synchronously
            log.exception("event delivery for %s failed", record.key)
            sent = []
        version = record.resource_version
        encoder = self._encoder(record)
        record, write = fold(record, sent)
        if write:  # only the outbox, muted entities and abort cause changed
            encoder.encode(record.state)
            delta = encoder.delta(record.state, force=True)
            record = await self._store.update(record, delta)
            if delta is not None:
                encoder.written(record.state, delta)
            self._acked.pop(record.key, None)  # the forced delta dropped every event before the outbox's head
        taken = [event.seq for event, outcome in sent if outcome is not None]
        if not write and taken:  # dropped from the store with the next write (ACK_WRITE_DELAY)
            since = self._acked.get(record.key, (0, time.monotonic()))[1]
            self._acked[record.key] = (max(taken), since)
        unwritten = False
        if (not sent or any(outcome is None for _, outcome in sent)) and record.state.outbox:
            stored = record.resource_version
            record = await deliver_outbox(record, self._sink, self._store)
            unwritten = record.resource_version == stored  # all delivered, not written (a write carries the fold)
            if not unwritten:  # written whole: the next round's encoder starts from this record
                self._encoders.pop(record.key, None)
                self._acked.pop(record.key, None)
        self._executor.rekey_frontier(record.key, version, record.resource_version)  # node states unchanged
        self._store.remember(record)
        return record, unwritten

    def _start_delivery(self, record: WorkflowRecord) -> None:
        """Send the (persisted) outbox in the background unless a delivery for the workflow is in flight."""
        if not record.state.outbox or record.key in self._deliveries:
            return
        events = list(record.state.outbox)
        key = record.key

        async def deliver() -> _Sent:
            try:
                return await send_outbox(events, self._sink)
            finally:
                self._on_delivered(key)

        self._deliveries[key] = asyncio.create_task(deliver(), name=f"deliver-{key}")

    async def fail(self, key: ExecutionKey, message: str) -> None:
        """Fail a workflow whose evaluation keeps raising (max-workflow-retries): record FAILED and its event."""
        self.invalidate(key)
        record = await self._store.get(key)
        if record.state.phase.is_terminal:
            return
        state = WorkflowState.from_json(record.state.to_json())
        acked = self._acked.pop(key, None)
        if acked is not None:  # written whole below, without the events admin took
            state.outbox = [event for event in state.outbox if event.seq > acked[0]]
        request = dataplane_pb2.CreateExecutionRequest.FromString(record.spec)
        state.error = ExecutionError("RoundFailure", message, ErrorKind.SYSTEM)
        state.phase = WorkflowPhase.FAILED
        state.updated_at = time.time()
        event = builders.workflow_event(
            request.id, self._producer_id, WorkflowPhase.FAILED, state.updated_at, "", state.error
        )
        OutboxRecorder(state).workflow(event)
        await self._store.update(record.with_state(state))
