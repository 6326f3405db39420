"""Handing executions to a data plane, and the repair loop for hand-offs and aborts that did not get through.

The execution row is committed first (``handoff = "pending"``) with its hand-off request in the blob store; only
then is the data plane asked. The hand-off has two phases so that a terminate racing it can never let a task start:

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

from aloft_admin.deps import AdminDeps
from aloft_admin.faults import AFTER_HANDOFF_CREATE, pause_point
from aloft_admin.integrations.dataplane import DataPlaneRefused, DataPlaneUnavailable, routing_seed
from aloft_admin.repositories.models.executions import ExecutionModel
from aloft_admin.transformers.executions import closure_of, execution_identifier
from aloft_admin.transformers.timestamps import to_timestamp
from aloft_db.leader import AdvisoryLeader
from aloft_service.errors import InvalidArgument

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


def handoff_uri(deps: AdminDeps, wid: identifier_pb2.WorkflowExecutionIdentifier) -> str:
    return deps.blobs.uri(deps.config.admin.metadataPrefix, wid.project, wid.domain, wid.name, "handoff.pb")


async def dispatch(
    deps: AdminDeps,
    wid: identifier_pb2.WorkflowExecutionIdentifier,
    request: dataplane_pb2.CreateExecutionRequest | None = None,
    *,
    fresh: bool = False,
) -> bool:
    """Send one pending execution to its data plane; True when a data plane accepted it.

    ``request`` is the stored hand-off request when the caller still holds it; else it is read back. ``fresh``: the
    caller has just committed the row, so it is not read again (a terminate since then wins the conditional commit
    of step 2 and the held run is aborted).
    """
    if request is None:
        request = await deps.blobs.read_proto(handoff_uri(deps, wid), dataplane_pb2.CreateExecutionRequest)
    if not request.cluster:
        try:
            cluster = deps.dataplanes.route(request.config.execution_cluster_label, seed=routing_seed(wid))
        except InvalidArgument as exc:  # the clusters config changed since it was created: wait for one to match
            cluster, reason = None, exc.message
        else:
            reason = "no data plane is enabled"
        if cluster is None:
            await record_handoff_failure(deps, wid, reason)
            return False
        request.cluster = cluster
    request.hold = True  # phase 1: the data plane keeps it until StartExecution
    if not fresh and not await _still_pending(deps, wid):
        return False  # terminated (or handed off by another attempt) since it was read: nothing to send
    try:
        response = await deps.dataplanes.create_execution(request.cluster, request)
    except DataPlaneUnavailable as exc:
        log.warning("hand-off of %s/%s/%s failed, will retry: %s", wid.project, wid.domain, wid.name, exc)
        await record_handoff_failure(deps, wid, str(exc))
        return False
    except DataPlaneRefused as exc:
        log.error("hand-off of %s/%s/%s refused for good: %s", wid.project, wid.domain, wid.name, exc)
        await _fail_refused(deps, wid, str(exc))
        return False
    await pause_point(AFTER_HANDOFF_CREATE)
    if not await _mark_handed_off(deps, wid, request.cluster, response.shard_key):
        await _abort_if_cancelled(deps, wid, request.cluster)
        return True
    await start_held(deps, wid, request.cluster)
    return True


async def start_held(deps: AdminDeps, wid: identifier_pb2.WorkflowExecutionIdentifier, cluster: str) -> bool:
    """Phase 2 after the commit: release the held run (``starting → done``); retried by the repair loop."""
    try:
        await deps.dataplanes.start_execution(cluster, wid)
    except DataPlaneUnavailable as exc:
        log.warning("start of %s/%s/%s failed, will retry: %s", wid.project, wid.domain, wid.name, exc)
        await record_handoff_failure(deps, wid, str(exc))
        return False
    except DataPlaneRefused as exc:
        # e.g. UNIMPLEMENTED from a data plane that predates hold and ran the execution at create
        log.error("start of %s/%s/%s refused, not retried: %s", wid.project, wid.domain, wid.name, exc)
    async with deps.repos.transaction() as tx:
        await tx.executions.mark_started(wid)
    return True


async def _still_pending(deps: AdminDeps, wid: identifier_pb2.WorkflowExecutionIdentifier) -> bool:
    async with deps.repos.transaction() as tx:
        row = await tx.executions.get(wid)
    return row is not None and row.handoff == PENDING


async def record_handoff_failure(deps: AdminDeps, wid: identifier_pb2.WorkflowExecutionIdentifier, error: str) -> None:
    """Count the failed try and push the next one back (rows that keep failing must not starve the others)."""
    async with deps.repos.transaction() as tx:
        row = await tx.executions.get(wid)
        if row is not None and row.handoff in (PENDING, STARTING):
            retry_at = deps.clock() + backoff(row.handoff_attempts + 1)
            await tx.executions.delay_handoff(row.id, error[:2000], retry_at)


async def _fail_refused(deps: AdminDeps, wid: identifier_pb2.WorkflowExecutionIdentifier, error: str) -> None:
    """A permanent refusal: the run can never start, so the execution ends FAILED with a system error."""
    now = deps.clock()
    async with deps.repos.transaction() as tx:
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
    deps: AdminDeps, wid: identifier_pb2.WorkflowExecutionIdentifier, cluster: str, shard_key: str
) -> bool:
    """One conditional UPDATE: pending → starting, UNDEFINED → QUEUED (the row's phase column is authoritative over
    the closure's copy). False when the row was no longer pending (terminated meanwhile)."""
    async with deps.repos.transaction() as tx:
        return await tx.executions.mark_handed_off(wid, cluster, shard_key, deps.clock())


async def _abort_if_cancelled(deps: AdminDeps, wid: identifier_pb2.WorkflowExecutionIdentifier, cluster: str) -> None:
    """The data plane accepted a run that was terminated while the hand-off was in flight: stop it at once.

    The abort is recorded (``abort_pending``) before it is sent, so the repair loop retries it if the send fails.
    """
    async with deps.repos.transaction() as tx:
        await tx.executions.abort_if_cancelled(wid, cluster)
        row = await tx.executions.get(wid)
    if row is not None and row.handoff == CANCELLED:
        await request_abort(deps, row, closure_of(row).abort_metadata.cause)


async def request_abort(deps: AdminDeps, row: ExecutionModel, cause: str) -> bool:
    """Ask the row's data plane to abort; True when acknowledged (then ``abort_pending`` is cleared)."""
    wid = execution_identifier(row)
    if not row.cluster:
        return False
    try:
        await deps.dataplanes.abort_execution(row.cluster, wid, cause)
    except DataPlaneUnavailable as exc:
        log.warning("abort of %s/%s/%s not delivered, will retry: %s", wid.project, wid.domain, wid.name, exc)
        await record_abort_failure(deps, row.id)
        return False
    except DataPlaneRefused as exc:
        # Not there, or refused for good: no ABORTED event will come, so the abort completes here.
        log.warning("abort of %s/%s/%s ends in admin: %s", wid.project, wid.domain, wid.name, exc)
        await _end_aborted_here(deps, row.id)
        return True
    async with deps.repos.transaction() as tx:
        await tx.executions.abort_delivered(row.id)
    return True


async def _end_aborted_here(deps: AdminDeps, row_id: int) -> None:
    """ABORTING → ABORTED in admin itself (the cause recorded by TerminateExecution stays)."""
    now = deps.clock()
    async with deps.repos.transaction() as tx:
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


async def record_abort_failure(deps: AdminDeps, row_id: int) -> None:
    now = deps.clock()
    async with deps.repos.transaction() as tx:
        await tx.executions.delay_abort(row_id, lambda attempts: now + backoff(attempts))


async def repair_once(deps: AdminDeps, older_than: timedelta = timedelta(0)) -> int:
    """Retry hand-offs and aborts that never reached a data plane; returns how many got through.

    Due rows are taken earliest-due first; every failure pushes its row's next try back, so a set of rows that
    keeps failing cannot hold the batch and block newer ones.
    """
    now = deps.clock()
    async with deps.repos.transaction() as tx:
        pending = await tx.executions.due_handoffs(now, now - older_than, REPAIR_BATCH)
        aborts = await tx.executions.due_aborts(now, now - older_than, REPAIR_BATCH)
    delivered = 0
    for row in pending:
        delivered += await _repair_handoff(deps, row)
    for row in aborts:
        delivered += await _repair_abort(deps, row)
    return delivered


async def _repair_handoff(deps: AdminDeps, row: ExecutionModel) -> bool:
    """One row's failure (a missing blob, a DB hiccup) must not stop the others; it is retried after a backoff."""
    wid = execution_identifier(row)
    try:
        if row.handoff == STARTING:
            return await start_held(deps, wid, row.cluster)
        return await dispatch(deps, wid)
    except Exception as exc:
        log.exception("hand-off of %s/%s/%s failed unexpectedly, will retry", row.project, row.domain, row.name)
        await _ignore_errors(record_handoff_failure(deps, wid, f"{type(exc).__name__}: {exc}"))
        return False


async def _repair_abort(deps: AdminDeps, row: ExecutionModel) -> bool:
    try:
        return await request_abort(deps, row, closure_of(row).abort_metadata.cause)
    except Exception:
        log.exception("abort of %s/%s/%s failed unexpectedly, will retry", row.project, row.domain, row.name)
        await _ignore_errors(record_abort_failure(deps, row.id))
        return False


async def _ignore_errors(step: Awaitable[None]) -> None:
    try:
        await step
    except Exception:  # the DB itself may be what failed; the row is simply retried next round
        log.exception("recording a failed repair failed")


async def repair_loop(deps: AdminDeps, interval: timedelta) -> None:
    """Runs until cancelled (server.py starts it on start-up and cancels it on stop). Among admin replicas on one
    PostgreSQL only the holder of the repair lock repairs, so no hand-off is dispatched by two replicas at once."""
    leader = AdvisoryLeader(deps.db, "aloft-admin/handoff-repair")
    try:
        while True:
            try:
                if await leader.is_leader():
                    await repair_once(deps, older_than=interval)
            except asyncio.CancelledError:
                raise
            except Exception:  # keep repairing: one bad row or a DB hiccup must not end the loop
                log.exception("hand-off repair round failed")
            await asyncio.sleep(interval.total_seconds())
    finally:
        await leader.release()


def start_repair_loop(deps: AdminDeps, interval: timedelta) -> asyncio.Task[None]:
    return asyncio.create_task(repair_loop(deps, interval), name="admin-handoff-repair")


async def stop_repair_loop(task: asyncio.Task[None] | None) -> None:
    if task is None:
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
