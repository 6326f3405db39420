"""Handing executions to a data plane, and the repair loop for hand-offs and aborts that did not get through.

The execution row is committed first (``handoff = "pending"``) with its hand-off request in the blob store; only
then is the data plane asked. Success marks the row ``done`` and moves it UNDEFINED → QUEUED; failure leaves it
pending and the repair loop retries (the data plane's CreateExecution is idempotent). Aborts work the same way
with ``abort_pending``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import timedelta

from aloft.dataplane.v1 import dataplane_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.core import identifier_pb2
from sqlalchemy import case, select, update

from aloft_admin.deps import AdminDeps
from aloft_admin.integrations.dataplane import DataPlaneUnavailable, routing_seed
from aloft_admin.repositories.models.executions import ExecutionModel
from aloft_admin.repositories.sql import executions as repo
from aloft_admin.transformers.executions import closure_of, execution_identifier
from aloft_db.leader import AdvisoryLeader

log = logging.getLogger(__name__)

WF = core.WorkflowExecution
PENDING, DONE, CANCELLED = "pending", "done", "cancelled"
REPAIR_BATCH = 50


def handoff_uri(deps: AdminDeps, wid: identifier_pb2.WorkflowExecutionIdentifier) -> str:
    return deps.blobs.uri(deps.config.admin.metadataPrefix, wid.project, wid.domain, wid.name, "handoff.pb")


async def dispatch(
    deps: AdminDeps,
    wid: identifier_pb2.WorkflowExecutionIdentifier,
    request: dataplane_pb2.CreateExecutionRequest | None = None,
) -> bool:
    """Send one pending execution to its data plane; True when a data plane accepted it.

    ``request`` is the stored hand-off request when the caller still holds it; else it is read back.
    """
    if deps.dataplanes is None:
        return False
    if request is None:
        request = await deps.blobs.read_proto(handoff_uri(deps, wid), dataplane_pb2.CreateExecutionRequest)
    if not request.cluster:
        cluster = deps.dataplanes.route(request.config.execution_cluster_label, seed=routing_seed(wid))
        if cluster is None:
            return False
        request.cluster = cluster
    try:
        response = await deps.dataplanes.create_execution(request.cluster, request)
    except DataPlaneUnavailable as exc:
        log.warning("hand-off of %s/%s/%s failed, will retry: %s", wid.project, wid.domain, wid.name, exc)
        await _record_failure(deps, wid, str(exc))
        return False
    await _mark_handed_off(deps, wid, request.cluster, response.shard_key)
    return True


async def _record_failure(deps: AdminDeps, wid: identifier_pb2.WorkflowExecutionIdentifier, error: str) -> None:
    async with deps.db.session() as session:
        row = await repo.find_execution(session, wid)
        if row is not None:
            await session.execute(
                update(ExecutionModel)
                .where(ExecutionModel.id == row.id)
                .values(handoff_attempts=ExecutionModel.handoff_attempts + 1, handoff_error=error[:2000])
                .execution_options(synchronize_session=False)
            )


async def _mark_handed_off(
    deps: AdminDeps, wid: identifier_pb2.WorkflowExecutionIdentifier, cluster: str, shard_key: str
) -> None:
    """One conditional UPDATE: pending → done, UNDEFINED → QUEUED (an event may already have moved the phase on;
    the row's phase column is authoritative over the closure's copy)."""
    undefined, queued = WF.Phase.Name(WF.UNDEFINED), WF.Phase.Name(WF.QUEUED)
    async with deps.db.session() as session:
        await session.execute(
            update(ExecutionModel)
            .where(
                ExecutionModel.org == wid.org,
                ExecutionModel.project == wid.project,
                ExecutionModel.domain == wid.domain,
                ExecutionModel.name == wid.name,
                ExecutionModel.handoff == PENDING,
            )
            .values(
                handoff=DONE,
                cluster=cluster,
                shard_key=shard_key,
                handoff_error="",
                phase=case((ExecutionModel.phase == undefined, queued), else_=ExecutionModel.phase),
                updated_at=deps.clock(),
                version=ExecutionModel.version + 1,
            )
            .execution_options(synchronize_session=False)
        )


async def request_abort(deps: AdminDeps, row: ExecutionModel, cause: str) -> bool:
    """Ask the row's data plane to abort; True when acknowledged (then ``abort_pending`` is cleared)."""
    wid = execution_identifier(row)
    if deps.dataplanes is None or not row.cluster:
        return False
    try:
        await deps.dataplanes.abort_execution(row.cluster, wid, cause)
    except DataPlaneUnavailable as exc:
        log.warning("abort of %s/%s/%s not delivered, will retry: %s", wid.project, wid.domain, wid.name, exc)
        return False
    async with deps.db.session() as session:
        await session.execute(
            update(ExecutionModel)
            .where(ExecutionModel.id == row.id)
            .values(abort_pending=False)
            .execution_options(synchronize_session=False)
        )
    return True


async def repair_once(deps: AdminDeps, older_than: timedelta = timedelta(0)) -> int:
    """Retry hand-offs and aborts that never reached a data plane; returns how many got through."""
    cutoff = deps.clock() - older_than
    async with deps.db.session() as session:
        pending = (
            (
                await session.execute(
                    select(ExecutionModel)
                    .where(ExecutionModel.handoff == PENDING, ExecutionModel.created_at <= cutoff)
                    .order_by(ExecutionModel.id)
                    .limit(REPAIR_BATCH)
                )
            )
            .scalars()
            .all()
        )
        aborts = (
            (
                await session.execute(
                    select(ExecutionModel).where(ExecutionModel.abort_pending.is_(True)).limit(REPAIR_BATCH)
                )
            )
            .scalars()
            .all()
        )
    delivered = 0
    for row in pending:
        delivered += await _safely(dispatch(deps, execution_identifier(row)), "hand-off", row)
    for row in aborts:
        delivered += await _safely(request_abort(deps, row, closure_of(row).abort_metadata.cause), "abort", row)
    return delivered


async def _safely(attempt: Awaitable[bool], what: str, row: ExecutionModel) -> bool:
    """One row's failure (a missing blob, a DB hiccup) must not stop the others from being repaired."""
    try:
        return await attempt
    except Exception:
        log.exception("%s of %s/%s/%s failed unexpectedly, will retry", what, row.project, row.domain, row.name)
        return False


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
    task = asyncio.create_task(repair_loop(deps, interval), name="admin-handoff-repair")
    deps.extras["handoff_repair"] = task
    return task


async def stop_repair_loop(deps: AdminDeps) -> None:
    task = deps.extras.pop("handoff_repair", None)
    if task is None:
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
