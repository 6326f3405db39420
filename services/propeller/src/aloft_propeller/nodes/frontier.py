"""Incremental evaluation of an execution's top-level DAG: which nodes a round visits.

A full walk (the first round after the record was read from the store: a start, a restart, an API write, the
periodic re-scan) visits every unfinished node in topological order, as every round once did, and sorts the nodes
by what they wait for. Later rounds visit only:
- nodes woken by name (a task process exited), and the downstream nodes of a node that finishes in the round
  (pushed as it finishes, so a chain of instant nodes still advances in one round);
- active nodes whose poll is due: at once after a round that changed them (a parent: it or any node below it, such as
  a dynamic node's children), then backing off (from 2 ms, 1.5 times longer each time, up to
  downstream-eval-duration: the controller's idle polling) for plugins that wake nobody;
- blocked nodes: ready but held back by the execution's max parallelism, or attempts waiting for resources (a
  local-process slot, a resource-manager token). They are tried in order; once one of a kind stays blocked, the
  rest of that kind wait for a later round, since they wait for the same thing. A full walk tries every attempt
  waiting for resources again (different attempts of a kind may wait for different tokens).

So a round costs what changed, not the workflow's size. The frontier lives in memory for the record version it
evaluated; the round runner drops it on anything else, and the next round walks in full.
"""

from __future__ import annotations

import heapq
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aloft_propeller.nodes.dag import DagGraph
from aloft_propeller.plugins.base import Phase
from aloft_propeller.state import NodePhase, NodeState

FIRST_POLL_SECONDS = 0.002
POLL_BACKOFF = 1.5
# A running attempt whose plugin wakes its node when it ends (local-process) is polled only as a fallback.
WOKEN_POLL_SECONDS = 0.25
_FAILED = (NodePhase.FAILED, NodePhase.TIMED_OUT, NodePhase.ABORTED)
_BUDGET = "budget:"
_WAITING = "waiting:"


@dataclass(frozen=True)
class NodeKind:
    """What blocked nodes of one kind have in common: ``name`` groups them; an attempt with a deadline is never
    left untried (its timeout must be noticed); ``wakes``: its plugin wakes the node when an attempt ends."""

    name: str
    has_deadline: bool
    wakes: bool = False


@dataclass
class WalkStats:
    """The last round's work (tests and the benchmark's profile read it)."""

    full: bool = False
    visited: int = 0


@dataclass
class Frontier:
    full: bool = True  # the next round walks every node and sorts them again
    unfinished: set[int] = field(default_factory=set)
    failed: set[int] = field(default_factory=set)
    blocked: dict[int, str] = field(default_factory=dict)  # position → kind of wait
    polls: dict[int, tuple[float, int]] = field(default_factory=dict)  # position → (due, unchanged visits)
    woken: set[str] = field(default_factory=set)  # node paths woken since the last round
    kinds: dict[int, NodeKind] = field(default_factory=dict)
    stats: WalkStats = field(default_factory=WalkStats)
    # After a walk: when the next round is due (the earliest poll), or None when something it waits for wakes
    # nobody (an attempt waiting for a slot or token another workflow may free): the controller polls then.
    due: float | None = None
    # The paths woken for the round being evaluated ("" polls every active node): nested evaluations (a dynamic
    # workflow's children, an array node's elements) pick theirs from it.
    round_woken: frozenset[str] = frozenset()
    poll_ceiling: float = 5.0
    # What evaluations below the top level keep between rounds of this record version, by owner (nested scopes'
    # frontiers, array nodes' element polls): dropped with the frontier, so anything else starts over in full.
    nested: dict[str, Any] = field(default_factory=dict)
    _queues: dict[str, list[int]] = field(default_factory=dict)  # kind → heap of positions (stale entries skipped)

    def wake(self, path: str) -> None:
        """Visit ``path``'s top-level node next round; "" polls every active node."""
        self.woken.add(path)

    def woken_below(self, prefix: str) -> tuple[set[str], bool]:
        """This round's woken paths under ``prefix`` (with it cut off), and whether every active node is polled."""
        cut = len(prefix)
        return {path[cut:] for path in self.round_woken if path.startswith(prefix)}, "" in self.round_woken

    async def walk(
        self,
        graph: DagGraph,
        state_of: Callable[[int], NodeState | None],
        upstream_done: Callable[[int], bool],
        kind_of: Callable[[int], NodeKind],
        visit: Callable[[int], Awaitable[tuple[NodeState, bool]]],
        now: float,
        poll_ceiling: float,
        parent_paced: bool = False,
    ) -> None:
        """Visit what this round must (see the module doc), updating what each visited node waits for. ``visit``
        answers the node's state and whether anything moved in it or below it (a parent's own state stays the same
        while its children run). ``parent_paced``: a nested scope, walked when its parent is visited (itself polled
        with back-off): every active node whose plugin wakes nobody is polled on each such walk, as before nested
        frontiers."""
        full = self.full
        self.round_woken, self.poll_ceiling = frozenset(self.woken), poll_ceiling
        if full:
            self.unfinished, self.failed, self.blocked, self.polls, self._queues = set(), set(), {}, {}, {}
            heap = list(range(len(graph.nodes)))
            woken: set[int] = set()
        else:
            woken = {p for path in self.woken for p in _positions_of(graph, path)}
            poll_all = "" in self.woken
            heap = [*woken, *(p for p, (due, _) in self.polls.items() if poll_all or due <= now)]
            heap.extend(p for p in (self._first_blocked(kind) for kind in list(self._queues)) if p is not None)
        self.woken = set()
        self.full = False
        self.due = None
        self.stats = WalkStats(full=full)
        heapq.heapify(heap)
        seen: set[int] = set()
        stuck: set[str] = set()  # kinds of which one stayed blocked this round
        while heap:
            position = heapq.heappop(heap)
            if position in seen:
                continue
            seen.add(position)
            state = state_of(position)
            if state is not None and state.phase.is_terminal:
                self._settle_terminal(position, state)
                continue
            kind = self._blocked_kind(position, state, upstream_done, kind_of)
            if kind is not None and kind in stuck and position not in woken and not (full and kind[0] == "w"):
                self._block(position, kind)  # the same wait as one that just stayed blocked: not tried again
                continue
            before = dict(vars(state)) if state is not None else None
            state, moved = await visit(position)
            self.stats.visited += 1
            changed = moved or before is None or vars(state) != before
            if state.phase.is_terminal:
                self._settle_terminal(position, state)
                if not full:
                    for downstream in graph.downstream[position]:
                        heapq.heappush(heap, downstream)
                if kind is not None and not full:
                    self._push_next_blocked(heap, kind, stuck)
                continue
            self.unfinished.add(position)
            after = self._blocked_kind(position, state, upstream_done, kind_of)
            if after is not None:
                self._block(position, after)
                stuck.add(after)
                continue
            self.blocked.pop(position, None)
            if kind is not None and not full:
                self._push_next_blocked(heap, kind, stuck)
            if state.phase == NodePhase.NOT_YET_STARTED:
                self.polls.pop(position, None)  # waits for an upstream node: pushed when that one finishes
                continue
            idle = 0 if changed else self.polls.get(position, (0.0, 0))[1] + 1
            delay = 0.0 if changed else min(FIRST_POLL_SECONDS * POLL_BACKOFF ** (idle - 1), poll_ceiling)
            wakes = kind_of(position).wakes
            if parent_paced and not wakes:
                delay = 0.0
            if state.plugin_phase == Phase.RUNNING and wakes:
                delay = max(delay, min(WOKEN_POLL_SECONDS, poll_ceiling))
            self.polls[position] = (now + delay, idle)
        self.due = self._next_due(now, poll_ceiling)

    def _next_due(self, now: float, poll_ceiling: float) -> float | None:
        if any(kind.startswith(_WAITING) for kind in self._queues):  # O(kinds), not O(blocked nodes)
            return None
        if self.woken:  # woken while the round ran
            return now
        return min((due for due, _ in self.polls.values()), default=now + poll_ceiling)

    def _blocked_kind(
        self,
        position: int,
        state: NodeState | None,
        upstream_done: Callable[[int], bool],
        kind_of: Callable[[int], NodeKind],
    ) -> str | None:
        if state is None or state.phase == NodePhase.NOT_YET_STARTED:
            # Ready (every upstream node finished, none failed) yet not started: the parallelism budget.
            return _BUDGET + kind_of(position).name if upstream_done(position) else None
        if state.plugin_phase == Phase.WAITING_FOR_RESOURCES and state.phase != NodePhase.RETRYABLE_FAILURE:
            kind = kind_of(position)
            return None if kind.has_deadline else _WAITING + kind.name
        return None

    def _settle_terminal(self, position: int, state: NodeState) -> None:
        self.unfinished.discard(position)
        self.blocked.pop(position, None)
        self.polls.pop(position, None)
        if state.phase in _FAILED:
            self.failed.add(position)

    def _block(self, position: int, kind: str) -> None:
        self.polls.pop(position, None)
        if self.blocked.get(position) != kind:
            self.blocked[position] = kind
            heapq.heappush(self._queues.setdefault(kind, []), position)

    def _first_blocked(self, kind: str) -> int | None:
        queue = self._queues.get(kind)
        while queue and self.blocked.get(queue[0]) != kind:
            heapq.heappop(queue)
        if not queue:
            self._queues.pop(kind, None)
            return None
        return queue[0]

    def _push_next_blocked(self, heap: list[int], kind: str, stuck: set[str]) -> None:
        """A blocked node got going: the next one of its kind may too."""
        if kind in stuck:
            return
        following = self._first_blocked(kind)
        if following is not None:
            heapq.heappush(heap, following)


def _positions_of(graph: DagGraph, path: str) -> list[int]:
    """The top-level node(s) a woken node path belongs to (itself, or the parent whose child it is)."""
    found = [graph.index[path]] if path in graph.index else []
    start = 0
    while (cut := path.find("-", start)) != -1:
        if path[:cut] in graph.index:
            found.append(graph.index[path[:cut]])
        start = cut + 1
    return found
