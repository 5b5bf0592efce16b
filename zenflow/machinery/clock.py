"""Injected time for the machinery: a real monotonic clock and a fake one tests advance by hand.

Everything that waits (delayed adds, rate limiters, backoff, lease renewal) asks a ``Clock`` for
the time and for timers, so unit tests drive time with ``FakeClock.advance`` and never sleep.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """Monotonic time plus timers. ``now`` never goes backwards; ``wall`` is for timestamps we
    write (never for deciding expiry: MACHINERY.md #18)."""

    def now(self) -> float: ...

    def wall(self) -> datetime: ...

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback`` (on the event loop) once ``now() >= when``."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    """``time.monotonic`` and the running event loop's timers."""

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> datetime:
        return datetime.now(UTC)

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        loop = asyncio.get_running_loop()
        return loop.call_later(max(0.0, when - self.now()), callback)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class _FakeTimer:
    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A clock that moves only when told. ``advance`` fires due timers in deadline order,
    synchronously; coroutines woken by ``sleep`` resume at the next event-loop turn (``settle``)."""

    def __init__(self, start: float = 1000.0, *, wall_start: datetime | None = None) -> None:
        self._now = start
        self._start = start
        self._wall_start = wall_start or datetime(2026, 1, 1, tzinfo=UTC)
        self._timers: list[tuple[float, int, _FakeTimer]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def wall(self) -> datetime:
        return self._wall_start + timedelta(seconds=self._now - self._start)

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        timer = _FakeTimer(when, callback)
        heapq.heappush(self._timers, (when, next(self._seq), timer))
        return timer

    async def sleep(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not fut.done():
                fut.set_result(None)

        handle = self.call_at(self._now + max(0.0, seconds), wake)
        try:
            await fut
        finally:
            handle.cancel()

    def pending(self) -> int:
        """Timers not yet fired or cancelled."""
        return sum(1 for _, _, t in self._timers if not t.cancelled)

    def advance(self, seconds: float) -> None:
        """Move time forward, firing every timer due by the new time (in deadline order, with
        ``now()`` equal to each timer's deadline while it runs)."""
        target = self._now + seconds
        while self._timers and self._timers[0][0] <= target:
            when, _, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._now = max(self._now, when)
            timer.callback()
        self._now = target

    async def settle(self, turns: int = 10) -> None:
        """Let woken coroutines run (a few event-loop turns, no real time passes)."""
        for _ in range(turns):
            await asyncio.sleep(0)

    async def advance_settled(self, seconds: float, *, step: float | None = None) -> None:
        """Advance in steps, settling after each, so chains of sleeps make progress."""
        if step is None:
            self.advance(seconds)
            await self.settle()
            return
        remaining = seconds
        while remaining > 1e-12:
            delta = min(step, remaining)
            self.advance(delta)
            await self.settle()
            remaining -= delta


T = TypeVar("T")


async def wait_for(clock: Clock, aw: Awaitable[T], seconds: float) -> T:
    """``asyncio.wait_for`` on an injected clock: raise TimeoutError (cancelling ``aw``) once
    ``seconds`` of ``clock`` time pass."""
    task = asyncio.ensure_future(aw)
    expired = False

    def expire() -> None:
        nonlocal expired
        if not task.done():
            expired = True
            task.cancel()

    handle = clock.call_at(clock.now() + seconds, expire)
    try:
        return await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if expired and task.cancelled() and (current is None or current.cancelling() == 0):
            raise TimeoutError(f"timed out after {seconds:.3f}s") from None
        raise
    finally:
        handle.cancel()
