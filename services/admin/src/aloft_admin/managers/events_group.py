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

Pipelined (PostgreSQL): once a group's events are all staged, its writes and commit (round trips and a WAL flush,
during which admin's CPU would idle) overlap the next group's reads and rules; at most two groups are in flight and
only one is being staged. The two are separate transactions: rows they share are serialized by the database (the
prefetch's row locks, the unique keys of new rows), and a group that loses such a race fails at its write or commit
and records its events alone, as above, each from fresh state. SQLite (one writer) keeps one group at a time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
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
    """Coalesces concurrent single events into one transaction per group (one group staged at a time; pipelined,
    a second one while the first commits)."""

    def __init__(
        self, repos: RepositoryProvider, recorder: EventRecorder, max_group: int = MAX_GROUP, *, pipelined: bool = False
    ) -> None:
        self._repos = repos
        self._recorder = recorder
        self._max_group = max_group
        self._in_flight = 2 if pipelined else 1
        self._queue: list[_Pending] = []
        self._staging = False  # a group is being read and staged
        self._committing = 0  # groups past their last event: writing and committing
        self._leaders: set[asyncio.Task[None]] = set()  # strong references until each is done

    async def record(self, kind: EventKind[Any, Any, Any], event: Any, at: datetime) -> None:
        """Record one event; returns (or raises its error) once the outcome is durable."""
        pending = _Pending(kind, event, at)
        self._queue.append(pending)
        self._lead_next()
        await pending.answer

    def _lead_next(self) -> None:
        """Start the next group when none is being staged and fewer than ``in_flight`` are in flight. The group is
        taken when its task runs: the events that arrive meanwhile join it."""
        if self._queue and not self._staging and self._committing < self._in_flight:
            self._staging = True
            leader = asyncio.create_task(self._lead(), name="event-group-commit")
            self._leaders.add(leader)
            leader.add_done_callback(self._leaders.discard)

    async def _lead(self) -> None:
        group = [p for p in self._queue[: self._max_group] if not p.answer.done()]
        del self._queue[: self._max_group]
        committing = False

        def staged() -> None:  # the group's events are staged: the next group may start
            nonlocal committing
            if not committing:
                committing, self._staging = True, False
                self._committing += 1
                self._lead_next()

        try:
            await self._settle(group, staged)
        except BaseException:  # stopping: nobody waits for an answer that will not come
            for pending in group + self._queue:
                _answer(pending, Unavailable("admin is stopping, retry"))
            self._queue.clear()
            raise
        finally:
            if committing:
                self._committing -= 1
            else:
                self._staging = False
            self._lead_next()

    async def _settle(self, group: list[_Pending], staged: Callable[[], None]) -> None:
        if not group:
            return
        if len(group) == 1:
            await self._alone(group[0])
            return
        try:
            refusals = await self._attempt(group, staged)
        except _EventFailed as failed:
            await self._settle(group[: failed.index], staged)
            await self._alone(group[failed.index])
            await self._settle(group[failed.index + 1 :], staged)
            return
        except Exception as exc:  # noqa: BLE001 - the commit failed: each event gets its own answer
            log.info("an event group of %d could not commit (%s); recording its events one by one", len(group), exc)
            for pending in group:
                await self._alone(pending)
            return
        for index, pending in enumerate(group):
            _answer(pending, refusals.get(index))

    async def _attempt(self, group: list[_Pending], staged: Callable[[], None]) -> dict[int, AloftError]:
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
            staged()
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
