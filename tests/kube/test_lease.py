"""The Lease store and elector against the real apiserver (integration; MACHINERY.md #19, 21):
a missing Lease reads as None and is created; an update carrying a stale resourceVersion is
refused with ConflictError (a lost race) and a second create with AlreadyExistsError; MicroTime
fields round-trip; leader Events are recorded; two in-process electors with short timings hand
over on release within about one retry period, transitions counted once per holder change and
acquireTime kept across renewals. The waits are on observed renewals, not on time: the second
elector stays out while its own reads span more than a lease duration of the first's renewals,
and renewals are checked once the store wrote two."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime

import pytest
from kubernetes_asyncio import client

from tests.support.wait import consistently, eventually
from zenflow.errors import AlreadyExistsError, ConflictError
from zenflow.kube.lease import KubeLeaseStore
from zenflow.machinery.leaderelection import LeaderElectionRecord, LeaderElector, ObservedLease

pytestmark = pytest.mark.integration


class RecordingStore(KubeLeaseStore):
    """The real store, remembering what each read saw (and when, monotonic) and each write."""

    def __init__(self, api: client.ApiClient, *, namespace: str, identity: str) -> None:
        super().__init__(api, namespace=namespace, name="lock", identity=identity)
        self.reads: list[tuple[float, ObservedLease | None]] = []
        self.writes: list[ObservedLease] = []

    async def get(self) -> ObservedLease | None:
        got = await super().get()
        self.reads.append((time.monotonic(), got))
        return got

    async def update(self, record: LeaderElectionRecord, resource_version: str) -> ObservedLease:
        updated = await super().update(record, resource_version)
        self.writes.append(updated)
        return updated


async def test_lease_store_round_trip_and_conflicts(
    api_client: client.ApiClient, namespace: str
) -> None:
    store = KubeLeaseStore(api_client, namespace=namespace, name="lock", identity="me")
    assert await store.get() is None
    now = datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    record = LeaderElectionRecord("me", 15, now, now, 0)
    created = await store.create(record)
    assert created.record == record
    with pytest.raises(AlreadyExistsError):
        await store.create(record)
    renewed = await store.update(
        LeaderElectionRecord("me", 15, now, datetime.now(UTC), 0), created.resource_version
    )
    assert renewed.resource_version != created.resource_version
    with pytest.raises(ConflictError):
        await store.update(LeaderElectionRecord("thief", 15, now, now, 1), created.resource_version)
    fetched = await store.get()
    assert fetched == renewed
    await store.event("LeaderElection", "me became leader")
    events = await client.CoreV1Api(api_client).list_namespaced_event(namespace)
    assert any(e.message == "me became leader" for e in events.items)


async def test_release_hands_over_within_a_retry_period(
    api_client: client.ApiClient, namespace: str
) -> None:
    def elector(identity: str, store: KubeLeaseStore) -> LeaderElector:
        return LeaderElector("lock", namespace, identity, 3.0, 2.0, 0.5, store=store)

    seen_by_b = RecordingStore(api_client, namespace=namespace, identity="b")
    a = elector("a", KubeLeaseStore(api_client, namespace=namespace, name="lock", identity="a"))
    b = elector("b", seen_by_b)
    await asyncio.wait_for(a.acquire(), 10)
    renewing = asyncio.create_task(a.renew_until_lost())
    acquiring = asyncio.create_task(b.acquire())

    def kept_out_past_a_lease() -> bool:
        """b's reads span more than a lease duration, all showing a holding the lease and
        a's renewals moving on meanwhile."""
        reads = [(at, lease) for at, lease in seen_by_b.reads if lease is not None]
        assert all(lease.record.holder_identity == "a" for _, lease in reads), reads
        renewed = len({lease.record.renew_time for _, lease in reads}) >= 2
        return renewed and reads[-1][0] - reads[0][0] > a.lease_duration

    try:
        await consistently(
            lambda: not acquiring.done(),
            until=eventually(kept_out_past_a_lease, what="b kept out past a lease", within=20),
            what="b not leading",
        )
        store = KubeLeaseStore(api_client, namespace=namespace, name="lock")
        during = await store.get()
        assert during is not None
        assert during.record.holder_identity == "a"
        renewing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewing
        assert await a.release() is True
        released = time.monotonic()
        await asyncio.wait_for(acquiring, 10)
        assert time.monotonic() - released <= 0.5 * 2.2 + 0.5
        after = await store.get()
        assert after is not None
        assert after.record.holder_identity == "b"
        assert after.record.lease_transitions == 1
    finally:
        for task in (renewing, acquiring):
            task.cancel()
        await asyncio.gather(renewing, acquiring, return_exceptions=True)


async def test_renewals_keep_acquire_time_and_transitions(
    api_client: client.ApiClient, namespace: str
) -> None:
    store = RecordingStore(api_client, namespace=namespace, identity="a")
    a = LeaderElector("lock", namespace, "a", 3.0, 2.0, 0.5, store=store)
    await a.acquire()
    first = await store.get()
    assert first is not None
    acquired = len(store.writes)
    renewing = asyncio.create_task(a.renew_until_lost())
    try:
        await eventually(lambda: len(store.writes) >= acquired + 2, what="two renewals")
    finally:
        renewing.cancel()
        await asyncio.gather(renewing, return_exceptions=True)
    later = await store.get()
    assert later is not None
    assert later.record.renew_time != first.record.renew_time
    assert later.record.acquire_time == first.record.acquire_time
    assert later.record.lease_transitions == first.record.lease_transitions
