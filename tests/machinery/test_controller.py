"""Controller workers (MACHINERY.md #26 end to end, plus worker robustness): outcomes routed through
handle_result; a raising reconcile never kills a worker; a key is never reconciled by two workers
at once; structlog context carries controller/namespace/name/reconcile_id; terminal errors call
the on_terminal hook and are not retried; reconcile metrics by result; stop drains
in-flight keys."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import structlog
from prometheus_client import CollectorRegistry

from zenflow.machinery.clock import FakeClock
from zenflow.machinery.controller import Controller
from zenflow.machinery.metrics import machinery_metrics
from zenflow.machinery.ratelimit import ItemExponentialFailureRateLimiter
from zenflow.machinery.ratelimiting import RateLimitingQueue
from zenflow.machinery.reconcile import ObjectKey, Outcome, Result, TerminalError


def _queue(clock: FakeClock) -> RateLimitingQueue[ObjectKey]:
    return RateLimitingQueue(clock=clock, rate_limiter=ItemExponentialFailureRateLimiter(1.0, 60.0))


async def test_raising_reconcile_is_retried_and_never_kills_the_worker() -> None:
    clock = FakeClock()
    q = _queue(clock)
    calls: list[str] = []

    async def reconcile(key: ObjectKey) -> Result:
        calls.append(key)
        if len(calls) < 3:
            raise RuntimeError("API hiccup")
        return Result()

    c = Controller("flows", q, reconcile, workers=1, clock=clock)
    runner = asyncio.create_task(c.run())
    q.add(ObjectKey("ns/a"))
    await clock.settle()
    assert calls == ["ns/a"]
    await clock.advance_settled(1.0)  # first retry after 1 s
    await clock.advance_settled(2.0)  # second after 2 s
    assert calls == ["ns/a"] * 3
    assert q.num_requeues(ObjectKey("ns/a")) == 0  # success forgot the backoff
    q.add(ObjectKey("ns/b"))
    await clock.settle()
    assert calls[-1] == "ns/b"  # the worker is alive
    await c.stop()
    await asyncio.wait_for(runner, 1)


async def test_key_never_reconciled_by_two_workers_at_once() -> None:
    clock = FakeClock()
    q = _queue(clock)
    running: set[str] = set()
    overlaps: list[str] = []
    done = 0

    async def reconcile(key: ObjectKey) -> Result:
        nonlocal done
        if key in running:
            overlaps.append(key)
        running.add(key)
        if done < 20:
            q.add(key)  # an event arrives while we work
        await asyncio.sleep(0)
        running.discard(key)
        done += 1
        return Result()

    c = Controller("flows", q, reconcile, workers=4, clock=clock)
    runner = asyncio.create_task(c.run())
    q.add(ObjectKey("ns/a"))
    q.add(ObjectKey("ns/b"))
    await clock.settle(200)
    assert overlaps == []
    assert done >= 20
    await c.stop()
    await asyncio.wait_for(runner, 1)


async def test_reconcile_runs_with_bound_log_context() -> None:
    clock = FakeClock()
    q = _queue(clock)
    seen: list[dict[str, Any]] = []

    async def reconcile(key: ObjectKey) -> Result:
        seen.append(dict(structlog.contextvars.get_contextvars()))
        return Result()

    c = Controller("flows", q, reconcile, clock=clock)
    assert await c.process(ObjectKey("team-a/nightly")) is Outcome.SUCCESS
    assert await c.process(ObjectKey("team-a/nightly")) is Outcome.SUCCESS
    assert seen[0]["controller"] == "flows"
    assert seen[0]["namespace"] == "team-a"
    assert seen[0]["name"] == "nightly"
    assert seen[0]["reconcile_id"] != seen[1]["reconcile_id"]
    assert "controller" not in structlog.contextvars.get_contextvars()


@pytest.mark.parametrize(
    ("returned", "outcome", "result_label"),
    [
        pytest.param(Result(), Outcome.SUCCESS, "success", id="success"),
        pytest.param(
            Result(requeue_after=5.0), Outcome.REQUEUE_AFTER, "requeue_after", id="requeue"
        ),
        pytest.param(RuntimeError("x"), Outcome.ERROR, "error", id="error"),
        pytest.param(TerminalError("bad spec"), Outcome.TERMINAL, "terminal_error", id="terminal"),
        pytest.param(None, Outcome.ERROR, "error", id="not-a-result"),
    ],
)
async def test_outcomes_and_metrics(returned: object, outcome: Outcome, result_label: str) -> None:
    clock = FakeClock()
    registry = CollectorRegistry()
    q = _queue(clock)
    terminal: list[tuple[str, str]] = []

    async def reconcile(key: ObjectKey) -> Result:
        if isinstance(returned, Exception):
            raise returned
        return returned  # type: ignore[return-value]

    async def on_terminal(key: ObjectKey, exc: TerminalError) -> None:
        terminal.append((key, str(exc)))

    c = Controller(
        "flows",
        q,
        reconcile,
        metrics=machinery_metrics(registry),
        clock=clock,
        on_terminal=on_terminal,
    )
    assert await c.process(ObjectKey("ns/a")) is outcome
    labels = {"controller": "flows", "result": result_label}
    assert registry.get_sample_value("controller_runtime_reconcile_total", labels) == 1
    assert terminal == ([("ns/a", "bad spec")] if outcome is Outcome.TERMINAL else [])
    clock.advance(100)
    expected_requeued = outcome in (Outcome.ERROR, Outcome.REQUEUE_AFTER)
    assert q.len() == (1 if expected_requeued else 0)


async def test_stop_drains_in_flight_reconcile() -> None:
    clock = FakeClock()
    q = _queue(clock)
    release = asyncio.Event()
    finished: list[str] = []

    async def reconcile(key: ObjectKey) -> Result:
        await release.wait()
        finished.append(key)
        return Result()

    c = Controller("flows", q, reconcile, workers=2, clock=clock)
    runner = asyncio.create_task(c.run())
    q.add(ObjectKey("ns/a"))
    await clock.settle()
    stopping = asyncio.create_task(c.stop())
    await clock.settle()
    assert not stopping.done()
    q.add(ObjectKey("ns/late"))  # ignored after shutdown
    release.set()
    await asyncio.wait_for(stopping, 1)
    await asyncio.wait_for(runner, 1)
    assert finished == ["ns/a"]


def test_workers_must_be_positive() -> None:
    with pytest.raises(ValueError, match="workers"):
        Controller("x", _queue(FakeClock()), lambda k: asyncio.sleep(0, Result()), workers=0)
