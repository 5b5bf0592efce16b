"""Reconcile contract (MACHINERY.md #26): ``handle_result`` forgets on success, forgets and adds
after a requested delay, re-adds rate limited on error, forgets and does not retry a terminal
error; object keys are built from and split into namespace/name."""

from __future__ import annotations

from typing import Any

import pytest

from zenflow.machinery.clock import FakeClock
from zenflow.machinery.ratelimit import ItemExponentialFailureRateLimiter
from zenflow.machinery.ratelimiting import RateLimitingQueue
from zenflow.machinery.reconcile import (
    ObjectKey,
    Outcome,
    Result,
    TerminalError,
    handle_result,
    key_of,
    make_key,
    split_key,
)

KEY = ObjectKey("ns/flow")


def _queue(clock: FakeClock) -> RateLimitingQueue[ObjectKey]:
    q: RateLimitingQueue[ObjectKey] = RateLimitingQueue(
        clock=clock, rate_limiter=ItemExponentialFailureRateLimiter(1.0, 100.0)
    )
    return q


async def _fail_twice(q: RateLimitingQueue[ObjectKey], clock: FakeClock) -> None:
    for _ in range(2):
        assert handle_result(q, KEY, RuntimeError("boom")) is Outcome.ERROR
        clock.advance(100)
        assert await q.get() == KEY
        q.done(KEY)


async def test_success_forgets_and_does_not_requeue() -> None:
    clock = FakeClock()
    q = _queue(clock)
    await _fail_twice(q, clock)
    assert q.num_requeues(KEY) == 2
    assert handle_result(q, KEY, Result()) is Outcome.SUCCESS
    assert q.num_requeues(KEY) == 0
    clock.advance(1000)
    assert q.len() == 0
    assert q.waiting() == 0


async def test_error_readds_rate_limited() -> None:
    clock = FakeClock()
    q = _queue(clock)
    assert handle_result(q, KEY, RuntimeError("boom")) is Outcome.ERROR
    assert q.len() == 0
    clock.advance(1.0)
    assert q.len() == 1
    assert q.num_requeues(KEY) == 1
    assert await q.get() == KEY
    q.done(KEY)
    handle_result(q, KEY, RuntimeError("boom"))
    clock.advance(1.0)
    assert q.len() == 0  # second failure waits 2 s
    clock.advance(1.0)
    assert q.len() == 1


async def test_requeue_after_forgets_and_adds_after_delay() -> None:
    clock = FakeClock()
    q = _queue(clock)
    await _fail_twice(q, clock)
    assert handle_result(q, KEY, Result(requeue_after=30.0)) is Outcome.REQUEUE_AFTER
    assert q.num_requeues(KEY) == 0
    clock.advance(29.9)
    assert q.len() == 0
    clock.advance(0.1)
    assert q.len() == 1


async def test_requeue_after_zero_adds_now() -> None:
    clock = FakeClock()
    q = _queue(clock)
    handle_result(q, KEY, Result(requeue_after=0))
    assert q.len() == 1


async def test_terminal_error_forgets_and_is_not_retried() -> None:
    clock = FakeClock()
    q = _queue(clock)
    await _fail_twice(q, clock)
    assert handle_result(q, KEY, TerminalError("spec.steps: cycle")) is Outcome.TERMINAL
    assert q.num_requeues(KEY) == 0
    clock.advance(10_000)
    assert q.len() == 0
    assert q.waiting() == 0


@pytest.mark.parametrize(
    ("obj", "key"),
    [
        pytest.param({"metadata": {"namespace": "ns", "name": "a"}}, "ns/a", id="namespaced"),
        pytest.param({"metadata": {"name": "a"}}, "a", id="cluster-scoped"),
        pytest.param({"metadata": {"name": "a", "namespace": ""}}, "a", id="empty-namespace"),
    ],
)
def test_key_of(obj: dict[str, Any], key: str) -> None:
    assert key_of(obj) == key


@pytest.mark.parametrize(
    "obj",
    [
        pytest.param({}, id="no-metadata"),
        pytest.param({"metadata": {"namespace": "ns"}}, id="no-name"),
        pytest.param({"metadata": {"name": 3}}, id="name-not-str"),
    ],
)
def test_key_of_refuses_malformed(obj: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="metadata"):
        key_of(obj)


@pytest.mark.parametrize(
    ("key", "parts"),
    [
        pytest.param("ns/a", ("ns", "a"), id="namespaced"),
        pytest.param("a", ("", "a"), id="cluster"),
    ],
)
def test_split_key_round_trips(key: str, parts: tuple[str, str]) -> None:
    assert split_key(key) == parts
    assert make_key(*parts) == key


@pytest.mark.parametrize("key", ["/a", "ns/", "a/b/c"])
def test_split_key_refuses_malformed(key: str) -> None:
    with pytest.raises(ValueError, match="invalid object key"):
        split_key(key)
