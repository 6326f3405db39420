"""Group commit for the single-event RPCs (CreateWorkflowEvent / CreateNodeEvent / CreateTaskEvent).

Each RPC used to be a transaction of its own: on PostgreSQL its commit (a WAL flush) and per-transaction work, not
the event, were most of its cost. Events that arrive while a group is being recorded wait for the next group, and
a group is recorded in one transaction (its node and task rows read in one statement per execution). Each RPC is
answered only after its group's commit: nothing is acknowledged before it is durable. A lone event is recorded
exactly as before (its own transaction, rerun after a lost race).

Every event gets the answer it would get alone, at a point of a serial order:
- a refusal judged before anything of the event is staged (output size, cluster, NOT_FOUND of the execution,
  duplicate, invalid or terminal transition: ``EventRecorder.record_unless_refused``) leaves the transaction as it
  was, so the group goes on and the refusal is the event's answer once the group has committed;
- any other failure of an event rolls the group back; the events before it are recorded again as a group, the
  failed one alone (its own transaction, its own answer) and the rest as a group after it;
- a failed commit (a concurrent writer won a row, the database went away) records every event of the group alone.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aloft_admin.repositories.base import Repositories, RepositoryProvider
from aloft_service.errors import AloftError, Unavailable

if TYPE_CHECKING:
    from aloft_admin.managers.events_common import EventKind, EventRecorder

log = logging.getLogger(__name__)

# Events per transaction: enough to amortise a commit many times over, small enough that one group's locks and
# statement stay short.
MAX_GROUP = 256


@dataclass
class _Pending:
    kind: EventKind[Any, Any, Any]
    event: Any
    at: datetime
    answer: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class _EventFailed(Exception):
    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


def _answer(pending: _Pending, error: BaseException | None = None) -> None:
    if pending.answer.done():  # the caller went away (cancelled); the event's fate is recorded all the same
        return
    if error is None:
        pending.answer.set_result(None)
    else:
        pending.answer.set_exception(error)


class EventGroups:
    """Coalesces concurrent single events into one transaction per group (one group in flight at a time)."""

    def __init__(self, repos: RepositoryProvider, recorder: EventRecorder, max_group: int = MAX_GROUP) -> None:
        self._repos = repos
        self._recorder = recorder
        self._max_group = max_group
        self._queue: list[_Pending] = []
        self._leader: asyncio.Task[None] | None = None

    async def record(self, kind: EventKind[Any, Any, Any], event: Any, at: datetime) -> None:
        """Record one event; returns (or raises its error) once the outcome is durable."""
        pending = _Pending(kind, event, at)
        self._queue.append(pending)
        if self._leader is None:
            self._leader = asyncio.create_task(self._lead(), name="event-group-commit")
        await pending.answer

    async def _lead(self) -> None:
        group: list[_Pending] = []
        try:
            while self._queue:
                group = [p for p in self._queue[: self._max_group] if not p.answer.done()]
                del self._queue[: self._max_group]
                await self._settle(group)
        except BaseException:  # stopping: nobody waits for an answer that will not come
            for pending in group + self._queue:
                _answer(pending, Unavailable("admin is stopping, retry"))
            self._queue.clear()
            raise
        finally:
            self._leader = None

    async def _settle(self, group: list[_Pending]) -> None:
        if not group:
            return
        if len(group) == 1:
            await self._alone(group[0])
            return
        try:
            refusals = await self._attempt(group)
        except _EventFailed as failed:
            await self._settle(group[: failed.index])
            await self._alone(group[failed.index])
            await self._settle(group[failed.index + 1 :])
            return
        except Exception as exc:  # noqa: BLE001 - the commit failed: each event gets its own answer
            log.info("an event group of %d could not commit (%s); recording its events one by one", len(group), exc)
            for pending in group:
                await self._alone(pending)
            return
        for index, pending in enumerate(group):
            _answer(pending, refusals.get(index))

    async def _attempt(self, group: list[_Pending]) -> dict[int, AloftError]:
        """The group in one transaction; the events' refusals by index. Raises ``_EventFailed`` for an event
        that failed otherwise (rolled back), or the commit's error."""
        refusals: dict[int, AloftError] = {}
        async with self._repos.transaction(batched=True) as tx:
            await _prefetch(tx, group)
            for index, pending in enumerate(group):
                try:
                    refusal = await self._recorder.record_unless_refused(tx, pending.kind, pending.event, pending.at)
                except Exception as exc:
                    raise _EventFailed(index) from exc
                if refusal is not None:
                    refusals[index] = refusal
        return refusals

    async def _alone(self, pending: _Pending) -> None:
        try:
            await self._recorder.record_alone(pending.kind, pending.event, pending.at)
        except Exception as exc:  # noqa: BLE001 - the event's own answer
            _answer(pending, exc)
            return
        _answer(pending, None)


async def _prefetch(tx: Repositories, group: list[_Pending]) -> None:
    by_kind: dict[int, tuple[EventKind[Any, Any, Any], list[Any]]] = {}
    for pending in group:
        by_kind.setdefault(id(pending.kind), (pending.kind, []))[1].append(pending.event)
    for kind, events in by_kind.values():
        await kind.prefetch(tx, events)
