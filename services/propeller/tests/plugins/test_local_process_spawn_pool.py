"""The local-process spawn threads (plugins/local_process/spawn_pool.py): results and errors reach the loop, the
thread count stays bounded, and stopping lets queued jobs finish."""

from __future__ import annotations

import asyncio
import threading

import pytest

from aloft_propeller.plugins.local_process.spawn_pool import SpawnPool


async def test_a_job_runs_in_a_spawn_thread_and_its_result_completes_the_future() -> None:
    pool = SpawnPool(2, "test-spawn")
    name = await pool.run(lambda: threading.current_thread().name)
    assert name.startswith("test-spawn_")
    assert await pool.run(lambda a, b: a + b, 2, 3) == 5
    pool.stop()


async def test_an_error_in_a_job_is_raised_to_the_awaiting_side() -> None:
    pool = SpawnPool(1, "test-spawn")

    def fail() -> None:
        raise OSError("cannot spawn")

    with pytest.raises(OSError, match="cannot spawn"):
        await pool.run(fail)
    assert await pool.run(lambda: "still working") == "still working"
    pool.stop()


async def test_no_more_threads_than_the_maximum_and_none_while_one_is_idle() -> None:
    pool = SpawnPool(3, "test-spawn")
    release = threading.Event()
    seen: set[str] = set()

    def blocked() -> None:
        seen.add(threading.current_thread().name)
        release.wait(10)

    jobs = [pool.run(blocked) for _ in range(8)]  # more jobs than threads: they queue
    await asyncio.sleep(0.05)
    release.set()
    await asyncio.gather(*jobs)
    assert len(seen) == 3

    idle = SpawnPool(3, "test-idle")
    names = [await idle.run(lambda: threading.current_thread().name) for _ in range(5)]  # one at a time
    await asyncio.sleep(0.05)
    assert set(names) == {"test-idle_0"}  # the idle thread took each job: no second thread started
    pool.stop()
    idle.stop()


async def test_stopping_lets_the_queued_jobs_finish_and_refuses_new_ones() -> None:
    pool = SpawnPool(1, "test-spawn")
    release = threading.Event()
    done: list[int] = []
    first = pool.run(lambda: release.wait(10))
    queued = [pool.run(done.append, index) for index in range(3)]
    pool.stop()
    release.set()
    await asyncio.gather(first, *queued)
    assert done == [0, 1, 2]
    with pytest.raises(RuntimeError):
        pool.run(done.append, 4)


def test_a_result_for_a_closed_loop_is_dropped() -> None:
    pool = SpawnPool(1, "test-spawn")
    release = threading.Event()
    finished = threading.Event()

    def job() -> None:
        release.wait(10)
        finished.set()

    async def start() -> None:
        pool.run(job)  # never awaited: the loop closes first

    asyncio.run(start())
    release.set()
    assert finished.wait(10)
    pool.stop()
    for thread in threading.enumerate():
        if thread.name.startswith("test-spawn_"):
            thread.join(10)  # the thread ended without raising (the loop was closed when it handed back)
