"""Work queue (MACHINERY.md #1-#4): dedup of repeated adds, one worker per key, re-queue once after
``done`` when added during processing, ``done`` alone does not requeue, shutdown hands out what is
queued then reports ``None`` and ignores adds, ``shutdown_with_drain`` waits for in-flight keys,
cancelled getters never lose a wake-up; a key is pending from ``add`` until the ``done`` of a worker
that took it after that add."""

from __future__ import annotations

import asyncio

import pytest

from zenflow.machinery.queue import WorkQueue


async def test_repeated_adds_before_get_hand_out_once() -> None:
    q: WorkQueue[str] = WorkQueue()
    for _ in range(5):
        q.add("a")
    q.add("b")
    assert q.len() == 2
    assert await q.get() == "a"
    assert await q.get() == "b"
    assert q.len() == 0


async def test_key_is_never_held_by_two_workers() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    assert await q.get() == "a"
    q.add("a")  # added while processing: not handed out yet
    assert q.len() == 0
    second = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    assert not second.done()
    q.add("a")  # still only once
    q.done("a")
    assert await asyncio.wait_for(second, 1) == "a"
    assert q.len() == 0
    q.done("a")
    assert q.len() == 0


async def test_done_without_new_add_does_not_requeue() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    key = await q.get()
    assert key == "a"
    q.done(key)
    assert q.len() == 0
    assert q.processing() == 0


async def test_concurrent_workers_never_overlap_on_a_key() -> None:
    q: WorkQueue[int] = WorkQueue()
    active: set[int] = set()
    overlaps: list[int] = []
    processed: list[int] = []

    async def worker() -> None:
        while (key := await q.get()) is not None:
            if key in active:
                overlaps.append(key)
            active.add(key)
            await asyncio.sleep(0)
            if len(processed) < 50:
                q.add(key % 3)
            await asyncio.sleep(0)
            active.discard(key)
            processed.append(key)
            q.done(key)

    for i in range(3):
        q.add(i)
    tasks = [asyncio.create_task(worker()) for _ in range(4)]
    for _ in range(1000):
        if len(processed) >= 50:
            break
        await asyncio.sleep(0)
    assert len(processed) >= 50
    await q.shutdown_with_drain()
    await asyncio.wait_for(asyncio.gather(*tasks), 1)
    assert overlaps == []


async def test_shutdown_hands_out_queued_keys_then_none_and_ignores_adds() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    q.add("b")
    q.shutdown()
    q.add("c")
    assert q.len() == 2
    assert await q.get() == "a"
    assert await q.get() == "b"
    assert await q.get() is None
    assert q.shutting_down()


async def test_shutdown_wakes_blocked_getters() -> None:
    q: WorkQueue[str] = WorkQueue()
    getters = [asyncio.create_task(q.get()) for _ in range(3)]
    await asyncio.sleep(0)
    q.shutdown()
    assert await asyncio.wait_for(asyncio.gather(*getters), 1) == [None, None, None]


async def test_shutdown_with_drain_waits_for_processing_keys() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    q.add("b")
    a = await q.get()
    b = await q.get()
    assert (a, b) == ("a", "b")
    drain = asyncio.create_task(q.shutdown_with_drain())
    await asyncio.sleep(0)
    assert not drain.done()
    q.done("a")
    await asyncio.sleep(0)
    assert not drain.done()
    q.done("b")
    await asyncio.wait_for(drain, 1)


async def test_shutdown_with_drain_returns_at_once_when_idle() -> None:
    q: WorkQueue[str] = WorkQueue()
    await asyncio.wait_for(q.shutdown_with_drain(), 1)


async def test_cancelled_getter_passes_its_wakeup_on() -> None:
    q: WorkQueue[str] = WorkQueue()
    first = asyncio.create_task(q.get())
    second = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.add("a")  # wakes ``first``
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await asyncio.wait_for(second, 1) == "a"


async def test_done_for_unknown_key_is_harmless() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.done("never")
    assert q.len() == 0


async def test_a_key_is_pending_from_add_until_the_done_of_a_get_after_it() -> None:
    q: WorkQueue[str] = WorkQueue()
    assert not q.pending("a")
    q.add("a")
    assert q.pending("a")
    assert await q.get() == "a"
    assert q.pending("a")  # being processed
    q.add("a")  # added while processing: the get before this add does not count
    q.done("a")
    assert q.pending("a")
    assert await q.get() == "a"
    q.done("a")
    assert not q.pending("a")
