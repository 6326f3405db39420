"""The controller: a work queue, N workers each evaluating one workflow at a time, streaks for hot workflows,
idle polling while tasks run, and a periodic re-scan of every non-terminal execution (so a restart resumes
everything the store holds)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time

from flyteidl.core import identifier_pb2

from aloft_propeller.config import PropellerSection
from aloft_propeller.controller import metrics
from aloft_propeller.controller.queue import WorkQueue
from aloft_propeller.controller.round import RoundOutcome, RoundRunner
from aloft_propeller.sharding.strategy import AllExecutions, ShardStrategy
from aloft_propeller.store.base import ExecutionKey, StaleRecord, WorkflowStore
from aloft_service.errors import NotFound, Unavailable

log = logging.getLogger(__name__)
# One DEBUG line per round: which process (shard, pid) evaluated which workflow when. Lets an operator (and the
# shard tests) check that no workflow is ever evaluated by two processes at once.
rounds_log = logging.getLogger("aloft_propeller.rounds")

# While a workflow waits on running tasks it is polled, starting fast and backing off to downstream-eval-duration.
_FIRST_POLL_SECONDS = 0.002
_POLL_BACKOFF = 1.5


class Controller:
    def __init__(
        self,
        config: PropellerSection,
        store: WorkflowStore,
        runner: RoundRunner,
        shard: ShardStrategy | None = None,
    ) -> None:
        self._config = config
        self._shard = shard or AllExecutions()
        self._store = store
        self._runner = runner
        runner.on_delivered(self.wake)  # a background delivery ended: take in admin's answers, send what's next
        rate = config.queue.queue
        self.queue: WorkQueue[ExecutionKey] = WorkQueue(rate.base_delay.total_seconds(), rate.max_delay.total_seconds())
        self._idle_rounds: dict[ExecutionKey, int] = {}
        self._round_failures: dict[ExecutionKey, int] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._busy = 0
        section = config.shard
        self._evaluator = f"shard={section.type or 'all'}-{section.shard_index}/{section.shard_count} pid={os.getpid()}"

    def enqueue(self, key: ExecutionKey) -> None:
        """The in-process change feed: the data-plane API calls this after every write."""
        self._runner.invalidate(key)
        if not self._shard.owns(key):
            return  # another propeller's shard evaluates it (it finds the write on its next scan)
        self._idle_rounds.pop(key, None)
        self.queue.add(key)
        metrics.main_depth.set(len(self.queue))

    def wake(self, key: ExecutionKey) -> None:
        """Something the workflow waits on changed outside the store (a task process exited): evaluate it now
        rather than at its next poll. The store is unchanged, so the cached record stays valid."""
        if not self._shard.owns(key):
            return
        self._idle_rounds.pop(key, None)
        self.queue.add(key)
        metrics.main_depth.set(len(self.queue))

    def wake_on_process_exit(self, plugins: object) -> None:
        """Plugins that can tell when a task process exits (local-process) wake its workflow at once."""
        listing = getattr(plugins, "plugins", None)
        for plugin in listing() if callable(listing) else [plugins]:
            set_listener = getattr(plugin, "set_exit_listener", None)
            if callable(set_listener):
                set_listener(self._wake_execution)

    def _wake_execution(
        self, identifier: identifier_pb2.NodeExecutionIdentifier | identifier_pb2.WorkflowExecutionIdentifier
    ) -> None:
        """A plugin's exit listener: naming the node, only it is visited; naming the execution, every active node
        is polled at once."""
        if isinstance(identifier, identifier_pb2.NodeExecutionIdentifier):
            execution_id = identifier.execution_id
            key = ExecutionKey(execution_id.project, execution_id.domain, execution_id.name)
            self._runner.wake_node(key, identifier.node_id)
        else:
            key = ExecutionKey(identifier.project, identifier.domain, identifier.name)
            self._runner.wake_all(key)
        self.wake(key)

    async def start(self) -> None:
        for key in await self._store.active_keys():
            self.enqueue(key)
        self._tasks = [
            asyncio.create_task(self._worker(i), name=f"propeller-worker-{i}") for i in range(self._config.workers)
        ]
        self._tasks.append(asyncio.create_task(self._resync_loop(), name="propeller-resync"))
        metrics.free_workers_count.set(self._config.workers)

    async def stop(self) -> None:
        self.queue.shut_down()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self._runner.close()

    async def _resync_loop(self) -> None:
        period = self._config.workflow_reeval_duration.total_seconds()
        while True:
            await asyncio.sleep(period)
            try:
                for key in await self._store.active_keys():
                    if self._shard.owns(key):
                        self._runner.invalidate(key)
                        self.queue.add(key)
            except Exception:
                log.exception("re-scan of active executions failed")

    async def _worker(self, index: int) -> None:
        while True:
            key = await self.queue.get()
            metrics.main_depth.set(len(self.queue))
            self._busy += 1
            metrics.free_workers_count.set(self._config.workers - self._busy)
            try:
                await self._process(key)
            finally:
                self._busy -= 1
                metrics.free_workers_count.set(self._config.workers - self._busy)
                self.queue.done(key)

    async def _process(self, key: ExecutionKey) -> None:
        try:
            outcome = await self._streak(key)
        except StaleRecord:
            self.queue.add(key)  # someone wrote first: re-evaluate from fresh state
            return
        except NotFound:
            self.queue.forget(key)
            self.queue.cancel_scheduled(key)
            return
        except Unavailable as exc:
            # Admin (events) or the store is unreachable: wait with backoff, never give up on the workflow.
            delay = self.queue.add_rate_limited(key)
            log.warning("round for %s postponed %.2fs: %s", key, delay, exc.message)
            return
        except Exception as exc:  # noqa: BLE001 - a failing round must not kill the worker
            await self._round_failed(key, exc)
            return
        self._round_failures.pop(key, None)
        self.queue.forget(key)
        if outcome is None:  # finished: a fallback round scheduled earlier (UNTIL_WOKEN) would find nothing to do
            self._idle_rounds.pop(key, None)
            self.queue.cancel_scheduled(key)
            return
        self.queue.add_after(key, self._next_round_in(key, outcome))

    def _next_round_in(self, key: ExecutionKey, outcome: RoundOutcome) -> float:
        """When the workflow's next round is due: when its frontier has something due (a task process's exit wakes
        it before that), at once after progress, else polled with backoff; sooner if delivered events wait for
        their write."""
        ceiling = self._config.downstream_eval_duration.total_seconds()
        if outcome.next_poll is not None:
            self._idle_rounds[key] = 0
            delay = min(outcome.next_poll, ceiling)
        elif outcome.changed:
            self._idle_rounds[key] = 0
            delay = 0.0
        else:
            idle = self._idle_rounds.get(key, 0)
            self._idle_rounds[key] = idle + 1
            delay = min(_FIRST_POLL_SECONDS * _POLL_BACKOFF**idle, ceiling)
        return delay if outcome.flush_in is None else min(delay, outcome.flush_in)

    async def _round_failed(self, key: ExecutionKey, exc: Exception) -> None:
        """Retry with backoff; after ``max-workflow-retries`` consecutive failures the workflow is failed."""
        failures = self._round_failures.get(key, 0) + 1
        self._round_failures[key] = failures
        if failures <= self._config.max_workflow_retries:
            delay = self.queue.add_rate_limited(key)
            log.exception("round %d for %s failed; retrying in %.2fs", failures, key, delay, exc_info=exc)
            return
        log.error("%s failed %d rounds in a row; failing the workflow: %s", key, failures, exc)
        try:
            await self._runner.fail(key, f"evaluation failed {failures} times: {exc}")
        except Exception:
            log.exception("could not record the failure of %s", key)
            self.queue.add_rate_limited(key)
            return
        self._round_failures.pop(key, None)
        self.queue.forget(key)
        self.queue.add(key)  # deliver the FAILED event (and finish) in a normal round

    async def _streak(self, key: ExecutionKey) -> RoundOutcome | None:
        """Rounds while they make progress and more is due at once, up to the streak limit; None once terminal,
        else the last round's outcome."""
        outcome = None
        for _ in range(max(self._config.max_streak_length, 1)):
            started = time.time()
            outcome = None
            try:
                outcome = await self._runner.run_round(key)
            finally:  # a round that raised was still evaluated by this process
                if rounds_log.isEnabledFor(logging.DEBUG):
                    visits = f" visited={outcome.visited} full={int(outcome.full)}" if outcome is not None else ""
                    rounds_log.debug(
                        "round %s %s start=%.6f end=%.6f%s", key, self._evaluator, started, time.time(), visits
                    )
            if outcome.terminal:
                return None
            if not outcome.changed or (outcome.next_poll is not None and outcome.next_poll > 0):
                break
        return outcome
