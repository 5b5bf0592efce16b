"""The Lease store and elector against the real apiserver (integration; MACHINERY.md #19, 21):
a missing Lease reads as None and is created; an update carrying a stale resourceVersion is
refused with ConflictError (a lost race) and a second create with AlreadyExistsError; MicroTime
fields round-trip; leader Events are recorded; two in-process electors with short timings hand
over on release within about one retry period, transitions counted once per holder change and
acquireTime kept across renewals."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime

import pytest
from kubernetes_asyncio import client

from zenflow.errors import AlreadyExistsError, ConflictError
from zenflow.kube.lease import KubeLeaseStore
from zenflow.machinery.leaderelection import LeaderElectionRecord, LeaderElector

pytestmark = pytest.mark.integration


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
    def elector(identity: str) -> LeaderElector:
        store = KubeLeaseStore(api_client, namespace=namespace, name="lock", identity=identity)
        return LeaderElector("lock", namespace, identity, 3.0, 2.0, 0.5, store=store)

    a, b = elector("a"), elector("b")
    await asyncio.wait_for(a.acquire(), 10)
    renewing = asyncio.create_task(a.renew_until_lost())
    acquiring = asyncio.create_task(b.acquire())
    try:
        await asyncio.sleep(4.0)  # longer than the lease: renewals keep b out
        assert not acquiring.done()
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
    store = KubeLeaseStore(api_client, namespace=namespace, name="lock", identity="a")
    a = LeaderElector("lock", namespace, "a", 3.0, 2.0, 0.5, store=store)
    await a.acquire()
    first = await store.get()
    assert first is not None
    renewing = asyncio.create_task(a.renew_until_lost())
    try:
        await asyncio.sleep(1.5)
    finally:
        renewing.cancel()
        await asyncio.gather(renewing, return_exceptions=True)
    later = await store.get()
    assert later is not None
    assert later.record.renew_time != first.record.renew_time
    assert later.record.acquire_time == first.record.acquire_time
    assert later.record.lease_transitions == first.record.lease_transitions
