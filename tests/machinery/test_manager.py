"""Manager (MACHINERY.md #15, 20, 21 at the process level): leader runnables start only when
leading and every informer has synced; a standby keeps informers running but never starts
controllers; stop() drains in-flight reconciles, then releases the Lease, then runs cleanups;
lost leadership cancels controllers at once and raises LeadershipLostError; /healthz, /readyz
and /metrics answer on a port picked by the OS. Waits are on conditions (tests.support.wait);
"still held while draining" is checked once stop() reached the drain (the queue shut down)."""

from __future__ import annotations

import asyncio
import builtins
from collections import deque
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from tests.machinery.fakes import MemoryLeaseStore, ScriptedListerWatcher, obj
from tests.support.wait import eventually
from zenflow.machinery.clock import FakeClock
from zenflow.machinery.controller import Controller
from zenflow.machinery.informer import Informer
from zenflow.machinery.leaderelection import LeaderElector
from zenflow.machinery.manager import LeadershipLostError, Manager
from zenflow.machinery.metrics import machinery_metrics
from zenflow.machinery.ratelimiting import RateLimitingQueue
from zenflow.machinery.reconcile import ObjectKey, Result


class GatedListerWatcher(ScriptedListerWatcher):
    def __init__(self) -> None:
        super().__init__(lists=deque([([obj("a", "1")], "10")]))
        self.gate = asyncio.Event()

    async def list(self) -> tuple[builtins.list[dict[str, Any]], str]:
        await self.gate.wait()
        return await super().list()


class Setup:
    def __init__(self, *, holder: str | None = None) -> None:
        self.clock = FakeClock()
        self.store = MemoryLeaseStore()
        if holder:
            self.store.put(holder, renew=self.clock.wall())
        registry = CollectorRegistry()
        metrics = machinery_metrics(registry)
        self.elector = LeaderElector(
            "zf", "ns", "me", store=self.store, clock=self.clock, metrics=metrics
        )
        self.manager = Manager(
            elector=self.elector, registry=registry, http_host="127.0.0.1", http_port=0
        )
        self.lw = GatedListerWatcher()
        self.informer = Informer(self.lw)
        self.manager.add_informer(self.informer)
        self.queue: RateLimitingQueue[ObjectKey] = RateLimitingQueue(
            "flows", metrics=metrics.queue("flows")
        )
        self.reconciled: list[str] = []
        self.release_reconcile = asyncio.Event()
        self.release_reconcile.set()
        self.cancelled = 0
        self.controller = Controller(
            "flows", self.queue, self.reconcile, workers=2, metrics=metrics
        )
        self.manager.add_runnable(self.controller, needs_leader=True)
        self.cleaned: list[str] = []
        self.manager.add_cleanup(self.cleanup)
        self.informer.add_event_handler(on_add=lambda o: self.queue.add(ObjectKey("ns/a")))

    async def reconcile(self, key: ObjectKey) -> Result:
        try:
            await self.release_reconcile.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        self.reconciled.append(key)
        return Result()

    async def cleanup(self) -> None:
        self.cleaned.append("api")

    async def get(self, path: str) -> tuple[int, str]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{self.manager.http_port}{path}") as resp,
        ):
            return resp.status, await resp.text()


async def _until(cond: Any, *, clock: FakeClock | None = None) -> None:
    """Wait for ``cond``, moving ``clock`` on 0.05 s between polls when given."""
    advance = (lambda: clock.advance(0.05)) if clock is not None else None
    await eventually(cond, what="condition", within=5, interval=0.002, between=advance)


async def test_controllers_start_only_when_leading_and_synced_then_stop_releases() -> None:
    s = Setup()
    run = asyncio.create_task(s.manager.run())
    await _until(lambda: s.elector.is_leader() and s.manager.http_port)
    assert not s.manager.leader_started.is_set()  # leading, but the cache is not synced
    status, text = await s.get("/readyz")
    assert status == 500
    assert "configmaps" in text
    s.lw.gate.set()
    await _until(s.manager.leader_started.is_set)
    await _until(lambda: s.reconciled == ["ns/a"])
    status, text = await s.get("/readyz")
    assert (status, text.strip()) == (200, "ok (leader)")
    assert (await s.get("/healthz"))[0] == 200
    status, metrics = await s.get("/metrics")
    assert status == 200
    assert 'controller_runtime_reconcile_total{controller="flows",result="success"} 1.0' in metrics
    assert 'leader_election_master_status{name="zf"} 1.0' in metrics
    assert 'workqueue_adds_total{name="flows"} 1.0' in metrics
    s.manager.stop()
    await asyncio.wait_for(run, 5)
    assert s.store.lease is not None
    assert s.store.lease.record.holder_identity == ""
    assert s.cleaned == ["api"]


async def test_standby_keeps_informers_warm_but_never_starts_controllers() -> None:
    s = Setup(holder="other")
    s.lw.gate.set()
    run = asyncio.create_task(s.manager.run())
    await _until(lambda: s.informer.has_synced() and s.manager.http_port)
    await s.clock.advance_settled(10.0, step=1.0)  # "other" observed < 15 s ago: still valid
    status, text = await s.get("/readyz")
    assert (status, text.strip()) == (200, "ok (standby)")
    assert not s.manager.leader_started.is_set()
    assert s.reconciled == []
    s.manager.stop()
    await asyncio.wait_for(run, 5)
    assert s.store.updates == []  # a standby never writes the lease on shutdown


async def test_stop_drains_in_flight_reconcile_before_releasing_lease() -> None:
    s = Setup()
    s.lw.gate.set()
    s.release_reconcile.clear()
    run = asyncio.create_task(s.manager.run())
    await _until(lambda: s.controller.active == 1)
    s.manager.stop()
    await _until(s.queue.shutting_down)  # stop() reached the drain
    assert not run.done()
    assert s.store.lease is not None
    assert s.store.lease.record.holder_identity == "me"  # still held while draining
    s.release_reconcile.set()
    await asyncio.wait_for(run, 5)
    assert s.reconciled == ["ns/a"]
    assert s.cancelled == 0
    assert s.store.lease.record.holder_identity == ""


async def test_lost_leadership_cancels_controllers_and_raises() -> None:
    s = Setup()
    s.lw.gate.set()
    s.release_reconcile.clear()
    run = asyncio.create_task(s.manager.run())
    await _until(lambda: s.controller.active == 1)
    s.store.fail = True
    await _until(run.done, clock=s.clock)
    with pytest.raises(LeadershipLostError):
        await run
    assert s.cancelled == 1
    assert s.reconciled == []
    assert s.cleaned == ["api"]
