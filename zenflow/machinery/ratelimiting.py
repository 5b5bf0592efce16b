"""The rate-limiting queue: ``add_rate_limited`` / ``forget`` / ``num_requeues`` on top of the
delaying queue (client-go ``RateLimitingInterface``). This is the queue controllers use."""

from __future__ import annotations

from typing import Generic

from zenflow.machinery.clock import Clock
from zenflow.machinery.delaying import DelayingQueue
from zenflow.machinery.metrics import QueueMetrics
from zenflow.machinery.queue import K
from zenflow.machinery.ratelimit import RateLimiter, default_controller_rate_limiter


class RateLimitingQueue(DelayingQueue[K], Generic[K]):
    def __init__(
        self,
        name: str = "",
        *,
        rate_limiter: RateLimiter[K] | None = None,
        clock: Clock | None = None,
        metrics: QueueMetrics | None = None,
    ) -> None:
        super().__init__(name, clock=clock, metrics=metrics)
        self.rate_limiter: RateLimiter[K] = rate_limiter or default_controller_rate_limiter(
            clock=self._clock
        )

    def add_rate_limited(self, key: K) -> None:
        """Add ``key`` after the limiter's delay (one more failure counted for it)."""
        self.add_after(key, self.rate_limiter.when(key))

    def forget(self, key: K) -> None:
        """Reset the key's backoff; it stays queued if it is queued."""
        self.rate_limiter.forget(key)

    def num_requeues(self, key: K) -> int:
        return self.rate_limiter.num_requeues(key)
