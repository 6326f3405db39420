"""The spawn threads: a few threads taking jobs from one queue, each result handed back to the event loop.

Why not ``loop.run_in_executor`` with a ``ThreadPoolExecutor``: its ``submit`` takes Python-level locks a spawn
thread also takes (the idle semaphore's, released by every worker after each job), and a spawn thread holding one
while it waits for the GIL makes the loop wait for the GIL too. In a 1,000-node fan-out at load 20 the loop spent
about 3 ms per launch inside ``submit`` (40 µs of CPU). Here the hand-off is one ``SimpleQueue.put`` (C, no Python
lock) and the result comes back with ``call_soon_threadsafe``; no ``concurrent.futures.Future`` in between.

Shutdown is as ``ThreadPoolExecutor``'s: the threads are not daemons, and at interpreter exit (before non-daemon
threads are joined) each is told to stop after the jobs already queued, so a spawn in flight completes.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...]] | None

_pools: weakref.WeakSet[SpawnPool] = weakref.WeakSet()


def _stop_all() -> None:
    for pool in list(_pools):
        pool.stop()


# concurrent.futures' own hook: runs before threading joins non-daemon threads (an atexit handler runs after).
_register_atexit: Callable[[Callable[[], None]], None] | None = getattr(threading, "_register_atexit", None)
if _register_atexit is not None:
    _register_atexit(_stop_all)


class SpawnPool:
    def __init__(self, threads: int, name: str) -> None:
        self._max_threads = threads
        self._name = name
        self._queue: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        # One token per worker between jobs (C-level queues: neither side ever blocks on a Python lock).
        self._idle: queue.SimpleQueue[None] = queue.SimpleQueue()
        self._stopped = False
        _pools.add(self)
        # A collected pool (a plugin dropped in tests) stops its threads; they hold the queue, not the pool.
        weakref.finalize(self, _stop_threads, self._queue, self._threads)

    def run(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Run ``fn(*args)`` in a spawn thread; the future completes on the calling loop."""
        if self._stopped:
            raise RuntimeError("the spawn pool is stopped")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((loop, future, fn, args))
        # A thread is started only when none is idle (as ThreadPoolExecutor does), up to the maximum.
        try:
            self._idle.get_nowait()
        except queue.Empty:
            self._start_thread()
        return future

    def _start_thread(self) -> None:
        if len(self._threads) < self._max_threads:
            thread = threading.Thread(
                target=_work, args=(self._queue, self._idle), name=f"{self._name}_{len(self._threads)}"
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Let every thread end after the jobs already queued."""
        if not self._stopped:
            self._stopped = True
            _stop_threads(self._queue, self._threads)


def _stop_threads(jobs: queue.SimpleQueue[_Job], threads: list[threading.Thread]) -> None:
    for _ in threads:
        jobs.put(None)


def _work(jobs: queue.SimpleQueue[_Job], idle: queue.SimpleQueue[None]) -> None:
    while True:
        job = jobs.get()
        if job is None:
            return
        loop, future, fn, args = job
        setter, outcome = _outcome(fn, args)
        idle.put(None)  # before the hand-back: the loop it wakes may queue the next job at once, for this thread
        _hand_back(loop, setter, future, outcome)
        del job, loop, future, fn, args, outcome  # no reference to the last job while idle


def _outcome(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Callable[..., None], Any]:
    try:
        return _set_result, fn(*args)
    except BaseException as exc:  # noqa: BLE001 - handed to the awaiting side, as an executor would
        return _set_exception, exc


def _hand_back(loop: asyncio.AbstractEventLoop, setter: Callable[..., None], *args: Any) -> None:
    with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody is waiting
        loop.call_soon_threadsafe(setter, *args)


def _set_result(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _set_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
