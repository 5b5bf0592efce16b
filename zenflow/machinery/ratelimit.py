"""Rate limiters for re-adding failed keys (client-go ``workqueue`` rate limiters).

A limiter is three methods: ``when(key)`` (how long to wait before the key's next attempt; each
call counts as one failure), ``forget(key)`` (reset the key's backoff), ``num_requeues(key)``.
The controller default is the max of a per-key exponential limiter (5 ms doubling to 1000 s) and a
token bucket shared by all keys (10/s, burst 100).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, Protocol, TypeVar

from zenflow.machinery.clock import Clock, RealClock

K = TypeVar("K", bound=Hashable)
K_contra = TypeVar("K_contra", bound=Hashable, contravariant=True)


class RateLimiter(Protocol[K_contra]):
    def when(self, key: K_contra) -> float: ...

    def forget(self, key: K_contra) -> None: ...

    def num_requeues(self, key: K_contra) -> int: ...


class ItemExponentialFailureRateLimiter(Generic[K]):
    """``base * 2**failures``, capped; per key."""

    def __init__(self, base: float = 0.005, cap: float = 1000.0) -> None:
        if base <= 0 or cap < base:
            raise ValueError(f"need 0 < base <= cap, got base={base} cap={cap}")
        self.base = base
        self.cap = cap
        self._failures: dict[K, int] = {}

    def when(self, key: K) -> float:
        exp = self._failures.get(key, 0)
        self._failures[key] = exp + 1
        if exp >= 1024:  # 2**exp would overflow a float; far past any cap
            return self.cap
        return min(self.base * 2.0**exp, self.cap)

    def forget(self, key: K) -> None:
        self._failures.pop(key, None)

    def num_requeues(self, key: K) -> int:
        return self._failures.get(key, 0)


class BucketRateLimiter(Generic[K]):
    """One token bucket for all keys (golang.org/x/time/rate reservations): ``when`` reserves a
    token and returns how long until it is available. Per-key counts are not tracked."""

    def __init__(self, qps: float = 10.0, burst: int = 100, *, clock: Clock | None = None) -> None:
        if qps <= 0 or burst < 1:
            raise ValueError(f"need qps > 0 and burst >= 1, got qps={qps} burst={burst}")
        self.qps = qps
        self.burst = burst
        self._clock: Clock = clock or RealClock()
        # Invariant: _tokens is the bucket level at time _last (negative = reserved in advance).
        self._tokens = float(burst)
        self._last = self._clock.now()

    def when(self, key: K) -> float:
        return self.reserve()

    def reserve(self) -> float:
        """Take one token; return the seconds until it may be used (0 when available now)."""
        now = self._clock.now()
        elapsed = max(0.0, now - self._last)
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.qps)
        self._last = now
        self._tokens -= 1.0
        if self._tokens >= -1e-9:  # float noise in elapsed * qps is not a wait
            return 0.0
        return -self._tokens / self.qps

    def forget(self, key: K) -> None:
        pass

    def num_requeues(self, key: K) -> int:
        return 0


class MaxOfRateLimiter(Generic[K]):
    """The longest wait of several limiters; every limiter sees every call."""

    def __init__(self, *limiters: RateLimiter[K]) -> None:
        if not limiters:
            raise ValueError("MaxOfRateLimiter needs at least one limiter")
        self._limiters = limiters

    def when(self, key: K) -> float:
        return max(limiter.when(key) for limiter in self._limiters)

    def forget(self, key: K) -> None:
        for limiter in self._limiters:
            limiter.forget(key)

    def num_requeues(self, key: K) -> int:
        return max(limiter.num_requeues(key) for limiter in self._limiters)


def default_controller_rate_limiter(*, clock: Clock | None = None) -> MaxOfRateLimiter[K]:
    """client-go's ``DefaultControllerRateLimiter``."""
    return MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(0.005, 1000.0),
        BucketRateLimiter(10.0, 100, clock=clock),
    )
