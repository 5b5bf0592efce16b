"""Leader election decisions (MACHINERY.md #17 to #21) against an in-memory Lease store and a fake
clock: timing validation; expiry judged from the local observation time, never the written
renewTime; acquire/renew are resourceVersion-guarded updates where a conflict is a lost race;
transitions grow only on holder change and acquireTime survives renewals; a leader that cannot
renew stops before the lease could expire for others; release empties the holder so a standby
takes over within about one retry period; identity is pod name plus a random suffix."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest

from tests.machinery.fakes import MemoryLeaseStore
from zenflow.errors import ConfigError
from zenflow.machinery.clock import FakeClock
from zenflow.machinery.leaderelection import LeaderElector, default_identity, validate_timings


def _elector(store: MemoryLeaseStore, clock: FakeClock, identity: str) -> LeaderElector:
    return LeaderElector(
        "zenflow", "zenflow-system", identity, store=store, clock=clock, rng=random.Random(3)
    )


@pytest.mark.parametrize(
    ("lease", "renew", "retry", "flag"),
    [
        pytest.param(10.0, 10.0, 2.0, "--lease-duration", id="lease-not-above-renew"),
        pytest.param(15.0, 2.4, 2.0, "--renew-deadline", id="renew-not-above-1.2-retry"),
        pytest.param(15.0, 10.0, 0.0, "--retry-period", id="zero-retry"),
    ],
)
def test_timings_are_validated(lease: float, renew: float, retry: float, flag: str) -> None:
    with pytest.raises(ConfigError, match=flag):
        validate_timings(lease_duration=lease, renew_deadline=renew, retry_period=retry)
    with pytest.raises(ConfigError):
        LeaderElector("l", "ns", "me", lease, renew, retry, store=MemoryLeaseStore())


def test_defaults_are_client_go_defaults() -> None:
    e = LeaderElector("l", "ns", "me", store=MemoryLeaseStore())
    assert (e.lease_duration, e.renew_deadline, e.retry_period) == (15.0, 10.0, 2.0)


async def test_acquires_a_missing_lease_by_creating_it() -> None:
    store, clock = MemoryLeaseStore(), FakeClock()
    e = _elector(store, clock, "a")
    await asyncio.wait_for(e.acquire(), 1)
    assert e.is_leader()
    assert store.lease is not None
    assert store.lease.record.holder_identity == "a"
    assert store.events == ["a became leader"]


@pytest.mark.parametrize(
    "renew_offset",
    [
        pytest.param(timedelta(hours=-1), id="renew-time-long-past"),
        pytest.param(timedelta(hours=1), id="renew-time-in-future"),
    ],
)
async def test_expiry_judged_from_local_observation_not_renew_time(
    renew_offset: timedelta,
) -> None:
    store, clock = MemoryLeaseStore(), FakeClock()
    store.put("other", renew=clock.wall() + renew_offset)
    e = _elector(store, clock, "me")
    task = asyncio.create_task(e.acquire())
    await clock.settle()
    assert not e.is_leader()  # first observation now: 15 s from here, whatever renewTime says
    await clock.advance_settled(14.0, step=0.5)
    assert not e.is_leader()
    await clock.advance_settled(6.0, step=0.5)
    assert e.is_leader()
    await task
    assert store.lease is not None
    assert store.lease.record.lease_transitions == 1


async def test_a_renewing_holder_is_never_taken_over() -> None:
    store, clock = MemoryLeaseStore(), FakeClock()
    leader = _elector(store, clock, "a")
    standby = _elector(store, clock, "b")
    await leader.acquire()
    renewing = asyncio.create_task(leader.renew_until_lost())
    acquiring = asyncio.create_task(standby.acquire())
    await clock.advance_settled(120.0, step=0.5)
    assert leader.is_leader()
    assert not standby.is_leader()
    assert not acquiring.done()
    assert not renewing.done()
    for t in (renewing, acquiring):
        t.cancel()
    await asyncio.gather(renewing, acquiring, return_exceptions=True)


async def test_updates_carry_resource_version_and_conflict_is_a_lost_race() -> None:
    store, clock = MemoryLeaseStore(), FakeClock()
    store.put("old", renew=clock.wall(), transitions=4)
    a, b = _elector(store, clock, "a"), _elector(store, clock, "b")
    # Both observe the old holder, then it expires for both.
    await a._attempt(within=5)
    await b._attempt(within=5)
    clock.advance(16.0)
    # b writes between a's read and a's write: a's update carries the stale version.

    def race() -> None:
        store.before_update.clear()
        store.put("b", renew=clock.wall(), transitions=5)

    store.before_update.append(race)
    assert await a._attempt(within=5) is False
    assert not a.is_leader()
    assert store.updates[-1] == ("a", "1")
    assert store.lease is not None
    assert store.lease.record.holder_identity == "b"


async def test_transitions_grow_on_holder_change_only_and_acquire_time_kept() -> None:
    store, clock = MemoryLeaseStore(), FakeClock()
    a = _elector(store, clock, "a")
    await a.acquire()
    assert store.lease is not None
    first = store.lease.record
    renewing = asyncio.create_task(a.renew_until_lost())
    await clock.advance_settled(10.0, step=1.0)
    assert store.lease.record.renew_time != first.renew_time
    assert store.lease.record.acquire_time == first.acquire_time
    assert store.lease.record.lease_transitions == first.lease_transitions
    renewing.cancel()
    await asyncio.gather(renewing, return_exceptions=True)
    await a.release()
    b = _elector(store, clock, "b")
    await asyncio.wait_for(b.acquire(), 1)
    assert store.lease.record.lease_transitions == first.lease_transitions + 1  # release kept it


@pytest.mark.parametrize(
    "failure", [pytest.param("hang", id="hanging"), pytest.param("fail", id="refused")]
)
async def test_leader_that_cannot_renew_stops_before_lease_expires(failure: str) -> None:
    store, clock = MemoryLeaseStore(), FakeClock()
    a = _elector(store, clock, "a")
    await a.acquire()
    renewing = asyncio.create_task(a.renew_until_lost())
    await clock.advance_settled(4.0, step=0.25)
    assert a.last_renew is not None
    last_renew = a.last_renew
    setattr(store, failure, True)
    lost_at = None
    for _ in range(200):
        await clock.advance_settled(0.1)
        if renewing.done():
            lost_at = clock.now()
            break
    assert lost_at is not None
    assert not a.is_leader()
    assert lost_at - last_renew <= a.renew_deadline + 0.1
    assert lost_at - last_renew < a.lease_duration
    assert store.events[-1] == "a stopped leading"


async def test_release_empties_holder_and_standby_takes_over_within_a_retry_period() -> None:
    store, clock = MemoryLeaseStore(), FakeClock()
    a, b = _elector(store, clock, "a"), _elector(store, clock, "b")
    await a.acquire()
    acquiring = asyncio.create_task(b.acquire())
    await clock.advance_settled(3.0, step=0.1)
    assert not b.is_leader()
    assert await a.release() is True
    assert store.lease is not None
    assert store.lease.record.holder_identity == ""
    assert not a.is_leader()
    released_at = clock.now()
    while not acquiring.done():
        await clock.advance_settled(0.05)
    assert clock.now() - released_at <= b.retry_period * (1 + 1.2)
    assert store.lease.record.holder_identity == "b"


async def test_release_when_not_leading_writes_nothing() -> None:
    store, clock = MemoryLeaseStore(), FakeClock()
    store.put("other", renew=clock.wall())
    a = _elector(store, clock, "a")
    assert await a.release() is False
    assert store.updates == []


def test_identity_is_pod_name_plus_random_suffix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_NAME", "zenflow-7d9f-abcde")
    first, second = default_identity(), default_identity()
    assert first.startswith("zenflow-7d9f-abcde_")
    assert first != second


def test_fake_clock_wall_time_moves_with_monotonic_time() -> None:
    clock = FakeClock(wall_start=datetime(2026, 1, 1, tzinfo=UTC))
    clock.advance(61)
    assert clock.wall() == datetime(2026, 1, 1, 0, 1, 1, tzinfo=UTC)
