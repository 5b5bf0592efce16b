"""Rate-limiting queue (MACHINERY.md #3, #6): ``add_rate_limited`` waits the limiter's delay,
``forget`` resets backoff without dequeuing, ``num_requeues`` counts failures, default limiter."""

from __future__ import annotations

import pytest

from zenflow.machinery.clock import FakeClock
from zenflow.machinery.ratelimit import ItemExponentialFailureRateLimiter
from zenflow.machinery.ratelimiting import RateLimitingQueue


async def test_add_rate_limited_backs_off_exponentially() -> None:
    clock = FakeClock()
    q: RateLimitingQueue[str] = RateLimitingQueue(clock=clock)
    q.add_rate_limited("a")
    assert q.len() == 0
    clock.advance(0.005)
    assert q.len() == 1
    assert await q.get() == "a"
    q.done("a")
    q.add_rate_limited("a")
    clock.advance(0.009)
    assert q.len() == 0
    clock.advance(0.001)
    assert q.len() == 1
    assert q.num_requeues("a") == 2


async def test_forget_resets_backoff_but_does_not_dequeue() -> None:
    clock = FakeClock()
    q: RateLimitingQueue[str] = RateLimitingQueue(
        clock=clock, rate_limiter=ItemExponentialFailureRateLimiter(1.0, 60.0)
    )
    for _ in range(3):
        q.rate_limiter.when("a")
    q.add("a")
    q.forget("a")
    assert q.num_requeues("a") == 0
    assert q.len() == 1  # still queued
    assert await q.get() == "a"
    q.done("a")
    q.add_rate_limited("a")
    clock.advance(1.0)  # backoff restarted at the base
    assert q.len() == 1


async def test_default_limiter_is_client_go_default() -> None:
    clock = FakeClock()
    q: RateLimitingQueue[str] = RateLimitingQueue(clock=clock)
    assert q.rate_limiter.when("x") == pytest.approx(0.005)
