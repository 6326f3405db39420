"""Handing executions to a data plane, and the repair loop for hand-offs and aborts that did not get through.

The execution row is committed first (``handoff = "pending"``) with its hand-off request in the row; only then is
the data plane asked. The hand-off has two phases so that a terminate racing it can never let a task start:

1. CreateExecution with ``hold``: the data plane stores the run but evaluates nothing.
2. One conditional UPDATE ``pending → starting`` (UNDEFINED → QUEUED) commits the hand-off, then StartExecution
   releases the run and the row becomes ``done``.

TerminateExecution takes the row ``pending → cancelled`` with the same kind of conditional write, so exactly one
of the two wins: when terminate wins, step 2 finds the row cancelled and aborts the held run instead, which ends
ABORTED without any node or task having started; when the hand-off wins, terminate is an ordinary abort.

A transient failure leaves the row pending (or starting) with a backoff (``retry_at``) and the repair loop retries
(CreateExecution and StartExecution are idempotent); a permanent refusal of the create ends it FAILED with a system
error naming the cause. Aborts work the same way with ``abort_pending``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import timedelta

from aloft.dataplane.v1 import dataplane_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.core import identifier_pb2

from aloft_admin.faults import AFTER_HANDOFF_CREATE, pause_point
from aloft_admin.integrations.dataplane import DataPlaneClient, DataPlaneRefused, DataPlaneUnavailable, routing_seed
from aloft_admin.managers.handoff_marks import HandedOffMarks, StartedMarks
from aloft_admin.repositories.base import RepositoryProvider
from aloft_admin.repositories.models.executions import ExecutionModel
from aloft_admin.transformers.executions import closure_of, execution_identifier
from aloft_admin.transformers.timestamps import Clock, to_timestamp
from aloft_db import Database
from aloft_db.leader import AdvisoryLeader
from aloft_service.errors import InvalidArgument
from aloft_storage import BlobStore

log = logging.getLogger(__name__)

WF = core.WorkflowExecution
PENDING, STARTING, DONE, CANCELLED, FAILED = "pending", "starting", "done", "cancelled", "failed"
REPAIR_BATCH = 50
BACKOFF_BASE = timedelta(seconds=2)
BACKOFF_MAX = timedelta(minutes=5)
REFUSED_ERROR_CODE = "DataPlaneRefused"


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after ``attempts`` failed ones: 2 s, 4 s, 8 s ... at most 5 min."""
    return min(BACKOFF_BASE * 2 ** min(max(attempts - 1, 0), 16), BACKOFF_MAX)


class Handoffs:
    """Hand-offs and aborts to data planes, with their retries (one per admin, built at start-up)."""

    def __init__(
        self,
        repos: RepositoryProvider,
        blobs: BlobStore,
        dataplanes: DataPlaneClient,
        clock: Clock,
        metadata_prefix: str,
        handed_off: HandedOffMarks,
        started: StartedMarks,
    ) -> None:
        self._repos = repos
        self._blobs = blobs
        self._dataplanes = dataplanes
        self._clock = clock
        self._metadata_prefix = metadata_prefix
        self._handed_off = handed_off
        self._started = started

    def uri(self, wid: identifier_pb2.WorkflowExecutionIdentifier) -> str:
        """Where rows created before ``executions_0003`` keep their hand-off request (newer rows keep it in the row:
        ``handoff_request``)."""
        return self._blobs.uri(self._metadata_prefix, wid.project, wid.domain, wid.name, "handoff.pb")

    async def dispatch(
        self,
        wid: identifier_pb2.WorkflowExecutionIdentifier,
        request: dataplane_pb2.CreateExecutionRequest | None = None,
        *,
        fresh: bool = False,
    ) -> bool:
        """Send one pending execution to its data plane; True when a data plane accepted it.

        ``request`` is the stored hand-off request when the caller holds it; else it is read from the blob store (rows
        from before ``executions_0003``). ``fresh``: the caller has just committed the row, so it is not read again (a
        terminate since then wins the conditional commit of step 2 and the held run is aborted).
        """
        if request is None:
            request = await self._blobs.read_proto(self.uri(wid), dataplane_pb2.CreateExecutionRequest)
        if not request.cluster:
            try:
                cluster = self._dataplanes.route(request.config.execution_cluster_label, seed=routing_seed(wid))
            except InvalidArgument as exc:  # the clusters config changed since it was created: wait for one to match
                cluster, reason = None, exc.message
            else:
                reason = "no data plane is enabled"
            if cluster is None:
                await self.record_handoff_failure(wid, reason)
                return False
            request.cluster = cluster
        request.hold = True  # phase 1: the data plane keeps it until StartExecution
        if not fresh and not await self._still_pending(wid):
            return False  # terminated (or handed off by another attempt) since it was read: nothing to send
        try:
            response = await self._dataplanes.create_execution(request.cluster, request)
        except DataPlaneUnavailable as exc:
            log.warning("hand-off of %s/%s/%s failed, will retry: %s", wid.project, wid.domain, wid.name, exc)
            await self.record_handoff_failure(wid, str(exc))
            return False
        except DataPlaneRefused as exc:
            log.error("hand-off of %s/%s/%s refused for good: %s", wid.project, wid.domain, wid.name, exc)
            await self._fail_refused(wid, str(exc))
            return False
        await pause_point(AFTER_HANDOFF_CREATE)
        if not await self._mark_handed_off(wid, request.cluster, response.shard_key):
            await self._abort_if_cancelled(wid, request.cluster)
            return True
        await self.start_held(wid, request.cluster)
        return True

    async def start_held(self, wid: identifier_pb2.WorkflowExecutionIdentifier, cluster: str) -> bool:
        """Phase 2 after the commit: release the held run (``starting → done``); retried by the repair loop."""
        try:
            await self._dataplanes.start_execution(cluster, wid)
        except DataPlaneUnavailable as exc:
            log.warning("start of %s/%s/%s failed, will retry: %s", wid.project, wid.domain, wid.name, exc)
            await self.record_handoff_failure(wid, str(exc))
            return False
        except DataPlaneRefused as exc:
            # e.g. UNIMPLEMENTED from a data plane that predates hold and ran the execution at create
            log.error("start of %s/%s/%s refused, not retried: %s", wid.project, wid.domain, wid.name, exc)
        await self._started.submit(wid)  # committed with the other hand-offs finishing now (handoff_marks)
        return True

    async def _still_pending(self, wid: identifier_pb2.WorkflowExecutionIdentifier) -> bool:
        async with self._repos.transaction() as tx:
            row = await tx.executions.get(wid)
        return row is not None and row.handoff == PENDING

    async def record_handoff_failure(self, wid: identifier_pb2.WorkflowExecutionIdentifier, error: str) -> None:
        """Count the failed try and push the next one back (rows that keep failing must not starve the others)."""
        async with self._repos.transaction() as tx:
            row = await tx.executions.get(wid)
            if row is not None and row.handoff in (PENDING, STARTING):
                retry_at = self._clock() + backoff(row.handoff_attempts + 1)
                await tx.executions.delay_handoff(row.id, error[:2000], retry_at)

    async def _fail_refused(self, wid: identifier_pb2.WorkflowExecutionIdentifier, error: str) -> None:
        """A permanent refusal: the run can never start, so the execution ends FAILED with a system error."""
        now = self._clock()
        async with self._repos.transaction() as tx:
            row = await tx.executions.get(wid, for_update=True)
            if row is None or row.handoff != PENDING:
                return  # terminated meanwhile
            closure = closure_of(row)
            closure.phase = WF.FAILED
            closure.error.CopyFrom(
                core.ExecutionError(
                    code=REFUSED_ERROR_CODE,
                    message=f"the data plane refused to run this execution: {error}",
                    kind=core.ExecutionError.SYSTEM,
                )
            )
            closure.updated_at.CopyFrom(to_timestamp(now))
            row.closure = closure.SerializeToString()
            row.phase = WF.Phase.Name(WF.FAILED)
            row.handoff, row.handoff_error, row.retry_at = FAILED, error[:2000], None
            row.handoff_attempts += 1
            row.error_kind, row.error_code = (
                core.ExecutionError.ErrorKind.Name(core.ExecutionError.SYSTEM),
                REFUSED_ERROR_CODE,
            )
            row.execution_updated_at = row.updated_at = now
            await tx.flush()

    async def _mark_handed_off(
        self, wid: identifier_pb2.WorkflowExecutionIdentifier, cluster: str, shard_key: str
    ) -> bool:
        """One conditional UPDATE: pending → starting, UNDEFINED → QUEUED (the row's phase column is authoritative over
        the closure's copy), committed with the other hand-offs finishing now (``handoff_marks``). False when the row
        was no longer pending (terminated meanwhile)."""
        return await self._handed_off.submit((wid, cluster, shard_key))

    async def _abort_if_cancelled(self, wid: identifier_pb2.WorkflowExecutionIdentifier, cluster: str) -> None:
        """The data plane accepted a run that was terminated while the hand-off was in flight: stop it at once.

        The abort is recorded (``abort_pending``) before it is sent, so the repair loop retries it if the send fails.
        """
        async with self._repos.transaction() as tx:
            await tx.executions.abort_if_cancelled(wid, cluster)
            row = await tx.executions.get(wid)
        if row is not None and row.handoff == CANCELLED:
            await self.request_abort(row, closure_of(row).abort_metadata.cause)

    async def request_abort(self, row: ExecutionModel, cause: str) -> bool:
        """Ask the row's data plane to abort; True when acknowledged (then ``abort_pending`` is cleared)."""
        wid = execution_identifier(row)
        if not row.cluster:
            return False
        try:
            await self._dataplanes.abort_execution(row.cluster, wid, cause)
        except DataPlaneUnavailable as exc:
            log.warning("abort of %s/%s/%s not delivered, will retry: %s", wid.project, wid.domain, wid.name, exc)
            await self.record_abort_failure(row.id)
            return False
        except DataPlaneRefused as exc:
            # Not there, or refused for good: no ABORTED event will come, so the abort completes here.
            log.warning("abort of %s/%s/%s ends in admin: %s", wid.project, wid.domain, wid.name, exc)
            await self._end_aborted_here(row.id)
            return True
        async with self._repos.transaction() as tx:
            await tx.executions.abort_delivered(row.id)
        return True

    async def _end_aborted_here(self, row_id: int) -> None:
        """ABORTING → ABORTED in admin itself (the cause recorded by TerminateExecution stays)."""
        now = self._clock()
        async with self._repos.transaction() as tx:
            row = await tx.executions.get_by_row_id(row_id, for_update=True)
            if row is None:
                return
            row.abort_pending, row.retry_at = False, None
            if row.phase == WF.Phase.Name(WF.ABORTING):
                closure = closure_of(row)
                closure.phase = WF.ABORTED
                closure.updated_at.CopyFrom(to_timestamp(now))
                row.closure = closure.SerializeToString()
                row.phase = WF.Phase.Name(WF.ABORTED)
                row.execution_updated_at = row.updated_at = now
            await tx.flush()

    async def record_abort_failure(self, row_id: int) -> None:
        now = self._clock()
        async with self._repos.transaction() as tx:
            await tx.executions.delay_abort(row_id, lambda attempts: now + backoff(attempts))

    async def repair_once(self, older_than: timedelta = timedelta(0)) -> int:
        """Retry hand-offs and aborts that never reached a data plane; returns how many got through.

        Due rows are taken earliest-due first; every failure pushes its row's next try back, so a set of rows that
        keeps failing cannot hold the batch and block newer ones.
        """
        now = self._clock()
        async with self._repos.transaction() as tx:
            pending = await tx.executions.due_handoffs(now, now - older_than, REPAIR_BATCH)
            aborts = await tx.executions.due_aborts(now, now - older_than, REPAIR_BATCH)
        delivered = 0
        for row in pending:
            delivered += await self._repair_handoff(row)
        for row in aborts:
            delivered += await self._repair_abort(row)
        return delivered

    async def _repair_handoff(self, row: ExecutionModel) -> bool:
        """One row's failure (a missing blob, a DB hiccup) must not stop the others; it is retried after a backoff."""
        wid = execution_identifier(row)
        try:
            if row.handoff == STARTING:
                return await self.start_held(wid, row.cluster)
            return await self.dispatch(wid, stored_request(row))
        except Exception as exc:
            log.exception("hand-off of %s/%s/%s failed unexpectedly, will retry", row.project, row.domain, row.name)
            await _ignore_errors(self.record_handoff_failure(wid, f"{type(exc).__name__}: {exc}"))
            return False

    async def _repair_abort(self, row: ExecutionModel) -> bool:
        try:
            return await self.request_abort(row, closure_of(row).abort_metadata.cause)
        except Exception:
            log.exception("abort of %s/%s/%s failed unexpectedly, will retry", row.project, row.domain, row.name)
            await _ignore_errors(self.record_abort_failure(row.id))
            return False


def stored_request(row: ExecutionModel) -> dataplane_pb2.CreateExecutionRequest | None:
    """The hand-off request kept in a pending row; None for rows from before ``executions_0003`` (a blob then)."""
    if row.handoff_request is None:
        return None
    request = dataplane_pb2.CreateExecutionRequest()
    request.ParseFromString(row.handoff_request)
    return request


async def _ignore_errors(step: Awaitable[None]) -> None:
    try:
        await step
    except Exception:  # the DB itself may be what failed; the row is simply retried next round
        log.exception("recording a failed repair failed")


class RepairLoop:
    """Runs ``Handoffs.repair_once`` every ``interval`` until stopped (server.py starts it on start-up and stops it
    on stop). Among admin replicas on one PostgreSQL only the holder of the repair lock repairs, so no hand-off is
    dispatched by two replicas at once."""

    def __init__(self, handoffs: Handoffs, db: Database, interval: timedelta) -> None:
        self._handoffs = handoffs
        self._db = db
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="admin-handoff-repair")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass

    async def _run(self) -> None:
        leader = AdvisoryLeader(self._db, "aloft-admin/handoff-repair")
        try:
            while True:
                try:
                    if await leader.is_leader():
                        await self._handoffs.repair_once(older_than=self._interval)
                except asyncio.CancelledError:
                    raise
                except Exception:  # keep repairing: one bad row or a DB hiccup must not end the loop
                    log.exception("hand-off repair round failed")
                await asyncio.sleep(self._interval.total_seconds())
        finally:
            await leader.release()
