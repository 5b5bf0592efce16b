"""Reviews in worker processes (zenflow.webhook.pool, zenflow.webhook.worker), for real.

Aspects: workers answer validations and mutations like the pure handlers; a review that outruns
its fast-lane slice starts over in the slow lane, and past its budget is refused (``timeout``,
with its uid) while the worker stays usable; a normal review is answered while an expensive one
holds the slow lane; a full lane is ``Busy`` at once; a worker killed mid-review refuses that
review (``error``) and is replaced; a stopped (SIGSTOP) worker's review is still answered by its
deadline, and the worker is killed and replaced after the grace period; a worker over its
memory ceiling retires after answering and is replaced; ``stop`` leaves no worker behind, nor
does a worker cancelled while it starts (a replacement when the pool stops).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.processes import descendants
from tests.support.wait import eventually
from tests.webhook.hostile import expensive_flow, review_of
from zenflow.webhook.executor import Busy
from zenflow.webhook.pool import LaneSettings, PoolSettings, ProcessReviews, WorkerProcess

SMALL = {
    "apiVersion": "workflow.zen.io/v1alpha1",
    "kind": "JobFlow",
    "metadata": {"name": "small"},
    "spec": {"steps": [{"name": "a", "run": {"image": "busybox", "command": ["true"]}}]},
}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def deadline(seconds: float) -> float:
    return asyncio.get_running_loop().time() + seconds


class Restarts(list[tuple[str, str]]):
    def __call__(self, lane: str, reason: str) -> None:
        self.append((lane, reason))


@pytest.fixture
async def restarts() -> Restarts:
    return Restarts()


@pytest.fixture
async def pool(restarts: Restarts) -> AsyncIterator[ProcessReviews]:
    settings = PoolSettings(
        fast=LaneSettings(workers=1, max_waiting=4, slice=0.05),
        slow=LaneSettings(workers=1, max_waiting=0, nice=5),
    )
    reviews = ProcessReviews(settings, on_restart=restarts)
    await reviews.start()
    yield reviews
    await reviews.stop()


async def test_validation_and_mutation_in_a_worker(pool: ProcessReviews) -> None:
    with pool.reserve(large=False) as place:
        out = await pool.review(
            place, "validate", review_of(SMALL, uid="v-1"), deadline=deadline(5)
        )
    assert (out.result, out.body["response"]["uid"]) == ("allowed", "v-1")
    assert out.access is not None
    with pool.reserve(large=True) as place:
        out = await pool.review(place, "mutate", review_of(SMALL, uid="m-1"), deadline=deadline(5))
    assert out.body["response"]["patchType"] == "JSONPatch"


async def test_expensive_review_moves_to_the_slow_lane_and_times_out_there(
    pool: ProcessReviews,
) -> None:
    expensive = review_of(expensive_flow("t1"), uid="bomb-1")
    with pool.reserve(large=False) as place:
        slow = asyncio.create_task(
            pool.review(place, "validate", expensive, deadline=deadline(0.8))
        )
        # While the slow lane chews on it, the fast lane answers an ordinary review.
        await eventually(lambda: pool.slow.capacity == pool.slow.admitted, what="bomb in slow lane")
        with pool.reserve(large=False) as other:
            quick = await pool.review(
                other, "validate", review_of(SMALL, uid="q"), deadline=deadline(5)
            )
        assert not slow.done()
        assert quick.result == "allowed"
        out = await slow
    assert out.result == "timeout"
    response = out.body["response"]
    assert (response["uid"], response["allowed"], response["status"]["code"]) == (
        "bomb-1",
        False,
        504,
    )
    assert "longer than the webhook's time budget" in response["status"]["message"]
    assert restarts_none(pool)
    with pool.reserve(large=True) as place:  # the slow worker survived its alarm
        again = await pool.review(
            place, "validate", review_of(SMALL, uid="r"), deadline=deadline(5)
        )
    assert again.result == "allowed"


def restarts_none(pool: ProcessReviews) -> bool:
    return len(pool.slow.pids) == 1 and len(pool.fast.pids) == 1


async def test_full_lane_is_busy_at_once(pool: ProcessReviews) -> None:
    with pool.reserve(large=True), pytest.raises(Busy, match="slow review queue is full"):
        pool.reserve(large=True)
    pool.reserve(large=True).release()


async def test_killed_worker_refuses_its_review_and_is_replaced(
    pool: ProcessReviews, restarts: Restarts
) -> None:
    (victim,) = pool.slow.pids
    with pool.reserve(large=True) as place:
        task = asyncio.create_task(
            pool.review(
                place, "validate", review_of(expensive_flow("t2"), uid="k-1"), deadline=deadline(10)
            )
        )
        await eventually(lambda: pool.slow.idle == 0, what="the worker took the review")
        os.kill(victim, signal.SIGKILL)
        out = await task
    assert out.result == "error"
    assert out.body["response"]["uid"] == "k-1"
    assert "worker process failed" in out.body["response"]["status"]["message"]
    assert restarts == [("slow", "lost")]
    await eventually(lambda: pool.slow.idle == 1, what="a replacement worker", within=60)
    (replacement,) = pool.slow.pids
    assert replacement != victim
    with pool.reserve(large=True) as place:
        out = await pool.review(
            place, "validate", review_of(SMALL, uid="k-2"), deadline=deadline(5)
        )
    assert out.result == "allowed"


async def test_worker_over_its_memory_ceiling_retires_and_is_replaced(restarts: Restarts) -> None:
    settings = PoolSettings(
        fast=LaneSettings(workers=1, max_waiting=0), slow=LaneSettings(workers=1, max_waiting=0),
        max_worker_rss_mib=1.0,
    )  # fmt: skip
    reviews = ProcessReviews(settings, on_restart=restarts)
    await reviews.start()
    try:
        (first,) = reviews.fast.pids
        with reviews.reserve(large=False) as place:
            out = await reviews.review(
                place, "validate", review_of(SMALL, uid="m"), deadline=deadline(5)
            )
        assert out.result == "allowed"
        assert restarts == [("fast", "memory")]
        await eventually(lambda: reviews.fast.idle == 1, what="replacement", within=60)
        assert not alive(first)
    finally:
        await reviews.stop()


async def test_stop_leaves_no_worker_behind(restarts: Restarts) -> None:
    reviews = ProcessReviews(on_restart=restarts)
    await reviews.start()
    pids = reviews.fast.pids + reviews.slow.pids
    assert len(pids) == 3  # two for ordinary reviews, one for large or slow ones
    await reviews.stop()
    assert not any(alive(pid) for pid in pids)
    assert restarts == []


async def test_a_worker_cancelled_while_it_starts_is_killed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # What a replacement worker meets when the pool stops while it starts: a worker that has
    # not said it is ready yet (this one never does).
    silent = tmp_path / "silent-worker"
    silent.write_text("#!/bin/sh\nexec sleep 300\n")
    silent.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(silent))
    before = descendants(os.getpid())
    spawning = asyncio.create_task(WorkerProcess.spawn(nice=0, max_rss_mib=64))
    (pid,) = await eventually(
        lambda: descendants(os.getpid()) - before, what="the worker process", within=30
    )
    spawning.cancel()
    with pytest.raises(asyncio.CancelledError):
        await spawning
    assert not alive(pid)


async def test_a_stuck_worker_still_answers_by_the_deadline_then_is_replaced(
    pool: ProcessReviews, restarts: Restarts
) -> None:
    (stuck,) = pool.slow.pids
    os.kill(stuck, signal.SIGSTOP)  # neither its alarm nor anything else runs now
    try:
        with pool.reserve(large=True) as place:
            out = await pool.review(
                place, "validate", review_of(SMALL, uid="s-1"), deadline=deadline(0.5)
            )
        assert out.result == "timeout"
        assert out.body["response"]["uid"] == "s-1"
        await eventually(
            lambda: restarts == [("slow", "lost")], what="the stuck worker killed", within=30
        )
        assert not alive(stuck)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(stuck, signal.SIGCONT)
    await eventually(lambda: pool.slow.idle == 1, what="a replacement worker", within=60)
