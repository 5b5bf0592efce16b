"""Jittered exponential backoff that resets after a healthy spell (client-go's
``NewExponentialBackoffManager(800ms, 30s, 2m, 2.0, 1.0)`` used by reflectors)."""

from __future__ import annotations

import random

from zenflow.machinery.clock import Clock


class Backoff:
    """``next()`` returns the wait before the next attempt: ``initial * factor**n`` capped at
    ``cap``, plus up to ``jitter`` times that at random. If no backoff was asked for during
    ``reset_after`` seconds, the sequence restarts at ``initial``."""

    def __init__(
        self,
        *,
        clock: Clock,
        initial: float = 0.8,
        cap: float = 30.0,
        factor: float = 2.0,
        jitter: float = 1.0,
        reset_after: float = 120.0,
        rng: random.Random | None = None,
    ) -> None:
        self._clock = clock
        self.initial = initial
        self.cap = cap
        self.factor = factor
        self.jitter = jitter
        self.reset_after = reset_after
        self._rng = rng or random.Random()
        self._current = initial
        self._last: float | None = None

    def next(self) -> float:
        now = self._clock.now()
        if self._last is not None and now - self._last > self.reset_after:
            self._current = self.initial
        self._last = now
        base = self._current
        self._current = min(self._current * self.factor, self.cap)
        return base + self._rng.random() * self.jitter * base

    def reset(self) -> None:
        self._current = self.initial
        self._last = None

    async def wait(self) -> float:
        delay = self.next()
        await self._clock.sleep(delay)
        return delay
