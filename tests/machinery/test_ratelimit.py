"""Rate limiters (MACHINERY.md #6): per-key exponential 5 ms doubling to a 1000 s cap with
``forget`` resetting and ``num_requeues`` counting; a shared token bucket (10/s, burst 100) that
refills with (fake) time; max-of combining them; the client-go default."""

from __future__ import annotations

import pytest

from zenflow.machinery.clock import FakeClock
from zenflow.machinery.ratelimit import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    default_controller_rate_limiter,
)


def test_exponential_doubles_from_base_to_cap_per_key() -> None:
    rl: ItemExponentialFailureRateLimiter[str] = ItemExponentialFailureRateLimiter()
    delays = [rl.when("a") for _ in range(20)]
    assert delays[:4] == pytest.approx([0.005, 0.01, 0.02, 0.04])
    assert delays[17] == pytest.approx(655.36)
    assert delays[18] == 1000.0
    assert delays[19] == 1000.0
    assert rl.num_requeues("a") == 20
    assert rl.when("b") == pytest.approx(0.005)  # other keys are independent


def test_exponential_forget_resets_backoff_and_count() -> None:
    rl: ItemExponentialFailureRateLimiter[str] = ItemExponentialFailureRateLimiter()
    for _ in range(5):
        rl.when("a")
    rl.forget("a")
    assert rl.num_requeues("a") == 0
    assert rl.when("a") == pytest.approx(0.005)


def test_exponential_survives_huge_failure_counts() -> None:
    rl: ItemExponentialFailureRateLimiter[str] = ItemExponentialFailureRateLimiter()
    for _ in range(2000):
        delay = rl.when("a")
    assert delay == 1000.0


@pytest.mark.parametrize(
    ("base", "cap"),
    [pytest.param(0.0, 1.0, id="zero-base"), pytest.param(2.0, 1.0, id="cap-below-base")],
)
def test_exponential_refuses_bad_parameters(base: float, cap: float) -> None:
    with pytest.raises(ValueError, match="base"):
        ItemExponentialFailureRateLimiter(base, cap)


def test_bucket_allows_burst_then_spaces_at_qps() -> None:
    clock = FakeClock()
    rl: BucketRateLimiter[str] = BucketRateLimiter(10.0, 100, clock=clock)
    assert all(rl.when(f"k{i}") == 0.0 for i in range(100))
    assert rl.when("x") == pytest.approx(0.1)
    assert rl.when("y") == pytest.approx(0.2)
    assert rl.num_requeues("x") == 0


def test_bucket_refills_with_time_up_to_burst() -> None:
    clock = FakeClock()
    rl: BucketRateLimiter[str] = BucketRateLimiter(10.0, 5, clock=clock)
    for _ in range(5):
        rl.when("k")
    clock.advance(0.3)
    assert [rl.when("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert rl.when("k") == pytest.approx(0.1)
    clock.advance(1000.0)
    assert [rl.when("k") for _ in range(5)] == [0.0] * 5
    assert rl.when("k") > 0


def test_max_of_takes_the_longest_wait_and_forgets_everywhere() -> None:
    clock = FakeClock()
    rl: MaxOfRateLimiter[str] = MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(1.0, 100.0), BucketRateLimiter(1.0, 1, clock=clock)
    )
    assert rl.when("a") == 1.0  # exponential 1 s; bucket 0
    assert rl.when("a") == 2.0  # exponential 2 s; bucket 1 s
    assert rl.num_requeues("a") == 2
    rl.forget("a")
    assert rl.num_requeues("a") == 0


def test_default_controller_rate_limiter_matches_client_go() -> None:
    clock = FakeClock()
    rl: MaxOfRateLimiter[str] = default_controller_rate_limiter(clock=clock)
    # The first 100 failures across keys are paced by the exponential limiter alone...
    assert rl.when("a") == pytest.approx(0.005)
    assert rl.when("a") == pytest.approx(0.01)
    for i in range(98):
        rl.when(f"k{i}")
    # ...then the shared bucket (10/s) dominates for a fresh key.
    assert rl.when("fresh") == pytest.approx(0.1)
