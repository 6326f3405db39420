"""Work queue semantics: de-duplication, no concurrent processing of one item, delayed and rate-limited adds."""

from __future__ import annotations

import asyncio

from aloft_propeller.controller.queue import WorkQueue


async def test_item_queued_twice_is_processed_once() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    queue.add("a")
    queue.add("b")
    assert len(queue) == 2
    assert [await queue.get(), await queue.get()] == ["a", "b"]
    assert len(queue) == 0


async def test_item_added_while_processing_is_requeued_after_done() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    item = await queue.get()
    queue.add("a")  # must not be handed to a second worker while the first holds it
    assert len(queue) == 0
    queue.done(item)
    assert len(queue) == 1 and await queue.get() == "a"


async def test_add_after_keeps_the_earliest_schedule() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add_after("a", 60)
    queue.add_after("a", 0.01)
    assert await asyncio.wait_for(queue.get(), 5) == "a"
    queue.done("a")
    queue.shut_down()


async def test_rate_limited_backoff_grows_until_forget() -> None:
    queue: WorkQueue[str] = WorkQueue(base_delay=0.01, max_delay=0.05)
    delays = [queue.add_rate_limited("a") for _ in range(5)]
    assert delays == [0.01, 0.02, 0.04, 0.05, 0.05]
    assert queue.failures("a") == 5
    queue.forget("a")
    assert queue.failures("a") == 0 and queue.add_rate_limited("a") == 0.01
    assert await asyncio.wait_for(queue.get(), 5) == "a"
    queue.shut_down()


async def test_cancel_scheduled_drops_the_scheduled_add() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add_after("a", 60)
    queue.add_after("b", 60)
    assert queue.scheduled("a")
    queue.cancel_scheduled("a")
    queue.cancel_scheduled("c")  # nothing scheduled: nothing to do
    assert not queue.scheduled("a") and queue.scheduled("b")
    queue.add_after("a", 0.01)  # scheduled again after a cancel: added as usual
    assert await asyncio.wait_for(queue.get(), 5) == "a"
    queue.shut_down()
