"""The waiting helpers (tests.support.wait).

Aspects: ``eventually`` returns the first truthy value of a plain or async condition, treats a
failed assertion as "not yet", runs ``between`` between polls, and on its deadline fails naming
what it waited for with the last value or the last assertion; ``eventually_sync`` does the same
without an event loop; ``consistently`` passes when the condition holds until the proof
completes and once after, fails as soon as the condition breaks, fails when the proof never
completes (an unproven absence is no pass) and passes the proof's own failure on.
"""

from __future__ import annotations

import asyncio
import itertools

import pytest

from tests.support.wait import consistently, eventually, eventually_sync


async def test_eventually_returns_the_first_truthy_value_of_a_plain_condition() -> None:
    calls = itertools.count(1)
    assert await eventually(lambda: [n] if (n := next(calls)) >= 3 else [], interval=0) == [3]


async def test_eventually_awaits_an_async_condition() -> None:
    seen: list[int] = []

    async def grows() -> int | None:
        seen.append(len(seen))
        return len(seen) if len(seen) == 2 else None

    assert await eventually(grows, interval=0) == 2


async def test_a_failed_assertion_is_not_yet_and_between_runs_between_polls() -> None:
    ticks: list[int] = []

    def check() -> bool:
        assert len(ticks) >= 2, "too early"
        return True

    assert await eventually(check, interval=0, between=lambda: ticks.append(1)) is True
    assert ticks == [1, 1]


async def test_eventually_fails_with_the_last_value() -> None:
    expected = r"the answer not reached within 0\.05s; last value: 0"
    with pytest.raises(AssertionError, match=expected):
        await eventually(lambda: 0, what="the answer", within=0.05, interval=0.01)


async def test_eventually_fails_with_the_last_assertion() -> None:
    def check() -> bool:
        raise AssertionError("still 3 Jobs")

    with pytest.raises(AssertionError, match="last error: AssertionError\\('still 3 Jobs'\\)"):
        await eventually(check, within=0.05, interval=0.01)


async def test_eventually_does_not_swallow_other_errors() -> None:
    def check() -> bool:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        await eventually(check, within=5)


def test_eventually_sync() -> None:
    calls = itertools.count(1)
    assert eventually_sync(lambda: next(calls) >= 2, interval=0) is True
    with pytest.raises(AssertionError, match="nothing not reached within"):
        eventually_sync(lambda: "", what="nothing", within=0.05, interval=0.01)


async def test_consistently_checks_until_the_proof_and_once_after() -> None:
    proof = asyncio.Event()
    checks: list[bool] = []

    def check() -> bool:
        checks.append(proof.is_set())
        if len(checks) == 3:
            proof.set()
        return True

    await consistently(check, until=proof.wait(), interval=0.001)
    assert checks[-1] is True  # the last check ran after the proof
    assert checks[0] is False


async def test_consistently_fails_as_soon_as_the_condition_breaks() -> None:
    proof = asyncio.Event()
    value = iter([1, 1, 0])
    with pytest.raises(AssertionError, match="one Job stopped holding: 0"):
        await consistently(lambda: next(value), until=proof.wait(), what="one Job", interval=0)


async def test_consistently_fails_when_the_proof_never_comes() -> None:
    never = asyncio.Event()
    with pytest.raises(AssertionError, match=r"the proof did not complete within 0\.05s"):
        await consistently(lambda: True, until=never.wait(), within=0.05, interval=0.01)


async def test_consistently_passes_the_proofs_failure_on() -> None:
    async def broken_proof() -> None:
        raise AssertionError("no reconcile")

    with pytest.raises(AssertionError, match="no reconcile"):
        await consistently(lambda: True, until=broken_proof(), interval=0.01)
