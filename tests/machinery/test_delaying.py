"""Delaying queue (MACHINERY.md #5) on a fake clock: d <= 0 adds now, a key becomes ready at its
delay, a second ``add_after`` never postpones a waiting key but an earlier one advances it,
waiting keys are not in the depth, shutdown cancels waiting keys, ``add_after`` counts a retry."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from zenflow.machinery.clock import FakeClock
from zenflow.machinery.delaying import DelayingQueue
from zenflow.machinery.metrics import machinery_metrics


@pytest.mark.parametrize("delay", [pytest.param(0.0, id="zero"), pytest.param(-3.0, id="negative")])
async def test_non_positive_delay_adds_now(delay: float) -> None:
    clock = FakeClock()
    q: DelayingQueue[str] = DelayingQueue(clock=clock)
    q.add_after("a", delay)
    assert q.len() == 1
    assert q.waiting() == 0
    assert await q.get() == "a"


async def test_key_becomes_ready_after_its_delay_and_not_before() -> None:
    clock = FakeClock()
    q: DelayingQueue[str] = DelayingQueue(clock=clock)
    q.add_after("a", 5.0)
    assert q.len() == 0
    assert q.waiting() == 1
    clock.advance(4.999)
    assert q.len() == 0
    clock.advance(0.001)
    assert q.len() == 1
    assert q.waiting() == 0
    assert await q.get() == "a"


async def test_second_add_after_never_postpones() -> None:
    clock = FakeClock()
    q: DelayingQueue[str] = DelayingQueue(clock=clock)
    q.add_after("a", 2.0)
    q.add_after("a", 10.0)
    clock.advance(2.0)
    assert q.len() == 1
    assert await q.get() == "a"
    q.done("a")
    clock.advance(20.0)
    assert q.len() == 0  # the later request was dropped, not kept as a second timer


async def test_earlier_add_after_moves_the_ready_time_forward() -> None:
    clock = FakeClock()
    q: DelayingQueue[str] = DelayingQueue(clock=clock)
    q.add_after("a", 10.0)
    q.add_after("a", 1.0)
    clock.advance(1.0)
    assert q.len() == 1
    assert clock.pending() == 0


async def test_waiting_keys_fire_in_ready_order() -> None:
    clock = FakeClock()
    q: DelayingQueue[str] = DelayingQueue(clock=clock)
    q.add_after("late", 3.0)
    q.add_after("early", 1.0)
    q.add_after("middle", 2.0)
    clock.advance(5.0)
    assert [await q.get() for _ in range(3)] == ["early", "middle", "late"]


async def test_shutdown_cancels_waiting_keys() -> None:
    clock = FakeClock()
    q: DelayingQueue[str] = DelayingQueue(clock=clock)
    q.add_after("a", 1.0)
    q.shutdown()
    clock.advance(2.0)
    assert q.len() == 0
    assert await q.get() is None
    q.add_after("b", 0)
    assert q.len() == 0


async def test_add_after_counts_retries_and_waiting_keys_are_not_depth() -> None:
    registry = CollectorRegistry()
    clock = FakeClock()
    q: DelayingQueue[str] = DelayingQueue(
        "flows", clock=clock, metrics=machinery_metrics(registry).queue("flows", clock=clock)
    )
    q.add_after("a", 1.0)
    q.add_after("b", 1.0)
    assert registry.get_sample_value("workqueue_retries_total", {"name": "flows"}) == 2
    assert registry.get_sample_value("workqueue_depth", {"name": "flows"}) == 0
    clock.advance(1.0)
    assert registry.get_sample_value("workqueue_depth", {"name": "flows"}) == 2
