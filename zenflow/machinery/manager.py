"""The manager: runs informers, runnables and probes under one TaskGroup, gated by leadership.

- Informers and runnables with ``needs_leader=False`` (e.g. the webhook) run on every replica, so
  a standby keeps warm caches and takes over fast.
- Leader runnables (controllers) start only once this replica leads AND every informer has
  synced (MACHINERY.md #15). The lease is acquired while the caches fill.
- Lost leadership: leader runnables are cancelled at once and ``run`` raises
  ``LeadershipLostError`` (like client-go's OnStoppedLeading → exit); the process exits non-zero
  and restarts as a standby. No half-leader state survives.
- ``stop()`` (SIGTERM/SIGINT): stop leader runnables (drain in-flight reconciles, bounded by
  ``shutdown_timeout``), then release the Lease (MACHINERY.md #21), then stop informers and the
  rest, then the HTTP server and the registered cleanups (closing API clients).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from prometheus_client import CollectorRegistry

from zenflow.errors import ZenflowError
from zenflow.logging import get_logger
from zenflow.machinery.http import ProbeServer
from zenflow.machinery.leaderelection import LeaderElector
from zenflow.machinery.metrics import MachineryMetrics, machinery_metrics

log = get_logger(__name__)


class Source(Protocol):
    """What the manager runs before anything else and waits for: an ``Informer`` (with a
    cache) or a ``Watcher`` (without)."""

    resource: str

    def has_synced(self) -> bool: ...

    async def wait_synced(self) -> None: ...

    async def run(self) -> None: ...


class Runnable(Protocol):
    name: str

    async def run(self) -> None: ...


@runtime_checkable
class Stoppable(Protocol):
    async def stop(self) -> None: ...


class LeadershipLostError(ZenflowError):
    """This replica stopped leading while running; the process should exit non-zero."""


@dataclass(frozen=True, slots=True)
class _Entry:
    runnable: Runnable
    needs_leader: bool


class Manager:
    def __init__(
        self,
        *,
        elector: LeaderElector | None = None,
        registry: CollectorRegistry | None = None,
        http_host: str = "0.0.0.0",
        http_port: int | None = 8081,
        shutdown_timeout: float = 25.0,
        handle_signals: bool = True,
    ) -> None:
        self.elector = elector
        self.registry = registry or CollectorRegistry()
        self.metrics: MachineryMetrics = machinery_metrics(self.registry)
        self.shutdown_timeout = shutdown_timeout
        self._handle_signals = handle_signals
        self._informers: list[Source] = []
        self._entries: list[_Entry] = []
        self._cleanups: list[Callable[[], Awaitable[None]]] = []
        self._stop = asyncio.Event()
        self.leader_started = asyncio.Event()
        self._leader_tasks: list[asyncio.Task[None]] = []
        self._http = (
            None
            if http_port is None
            else ProbeServer(
                host=http_host,
                port=http_port,
                registry=self.registry,
                healthz=self.healthz,
                readyz=self.readyz,
            )
        )

    # -- building ------------------------------------------------------------------------------

    def add_informer(self, informer: Source) -> None:
        self._informers.append(informer)

    def add_runnable(self, runnable: Runnable, *, needs_leader: bool) -> None:
        self._entries.append(_Entry(runnable, needs_leader))

    def add_cleanup(self, fn: Callable[[], Awaitable[None]]) -> None:
        """Run ``fn`` last on shutdown (e.g. ``api_client.close``), in reverse order of adding."""
        self._cleanups.append(fn)

    @property
    def informers(self) -> list[Source]:
        return list(self._informers)

    @property
    def http_port(self) -> int | None:
        return self._http.port if self._http is not None else None

    # -- state ---------------------------------------------------------------------------------

    def informers_synced(self) -> bool:
        return all(i.has_synced() for i in self._informers)

    def is_leader(self) -> bool:
        return (
            self.elector.is_leader() if self.elector is not None else self.leader_started.is_set()
        )

    def healthz(self) -> tuple[bool, str]:
        elector = self.elector
        if elector is not None and elector.is_leader():
            since = elector.seconds_since_renew()
            if since > elector.lease_duration:
                return False, f"leader lease not renewed for {since:.1f}s"
        return True, "ok"

    def readyz(self) -> tuple[bool, str]:
        pending = [i.resource for i in self._informers if not i.has_synced()]
        if pending:
            return False, f"informers not synced: {', '.join(pending)}"
        if self._stop.is_set():
            return False, "shutting down"
        role = "leader" if self.is_leader() else "standby"
        return True, f"ok ({role})"

    def stop(self) -> None:
        """Ask ``run`` to shut down gracefully (idempotent; safe from a signal handler)."""
        if not self._stop.is_set():
            log.info("manager_stopping")
            self._stop.set()

    # -- running -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until ``stop()``/SIGTERM/SIGINT (returns) or lost leadership (raises
        LeadershipLostError). Cleanups always run."""
        installed = self._install_signal_handlers()
        lost = False
        try:
            if self._http is not None:
                await self._http.start()
            lost = await self._run_group()
        finally:
            for sig in installed:
                asyncio.get_running_loop().remove_signal_handler(sig)
            if self._http is not None:
                await self._http.stop()
            for fn in reversed(self._cleanups):
                try:
                    await fn()
                except Exception as exc:
                    log.warning("manager_cleanup_failed", error=repr(exc))
            log.info("manager_stopped", leadership_lost=lost)
        if lost:
            raise LeadershipLostError("leadership lost: exiting so a fresh process stands by")

    async def _run_group(self) -> bool:
        async with asyncio.TaskGroup() as tg:
            background = [
                tg.create_task(i.run(), name=f"informer-{i.resource}") for i in self._informers
            ]
            background += [
                tg.create_task(e.runnable.run(), name=e.runnable.name)
                for e in self._entries
                if not e.needs_leader
            ]
            leading = tg.create_task(self._lead(tg), name="leader-election")
            stopping = tg.create_task(self._stop.wait(), name="stop")
            await asyncio.wait({leading, stopping}, return_when=asyncio.FIRST_COMPLETED)
            lost = leading.done() and not leading.cancelled() and leading.exception() is None
            if lost:
                await self._cancel(self._leader_tasks)
                log.info("leader_runnables_stopped", reason="leadership_lost")
            else:
                await self._stop_leader_work()
                await self._cancel([leading])
                if self.elector is not None:
                    await self.elector.release()
            stopping.cancel()
            await self._cancel(background)
        return lost

    async def _lead(self, tg: asyncio.TaskGroup) -> None:
        """Acquire, wait for caches, start leader runnables, renew; returns when leadership is
        lost (never returns without an elector)."""
        if self.elector is not None:
            await self.elector.acquire()
        await asyncio.gather(*(i.wait_synced() for i in self._informers))
        for e in self._entries:
            if e.needs_leader:
                self._leader_tasks.append(tg.create_task(e.runnable.run(), name=e.runnable.name))
        self.leader_started.set()
        log.info("leader_runnables_started", count=len(self._leader_tasks))
        if self.elector is None:
            await asyncio.Event().wait()
        else:
            await self.elector.renew_until_lost()

    async def _stop_leader_work(self) -> None:
        runnables = [e.runnable for e in self._entries if e.needs_leader]
        if not self._leader_tasks:
            return
        stoppers = [r.stop() for r in runnables if isinstance(r, Stoppable)]
        try:
            async with asyncio.timeout(self.shutdown_timeout):
                await asyncio.gather(*stoppers)
                await asyncio.gather(*self._leader_tasks, return_exceptions=True)
        except TimeoutError:
            log.warning("leader_runnables_drain_timeout", timeout_s=self.shutdown_timeout)
        await self._cancel(self._leader_tasks)
        log.info("leader_runnables_stopped", reason="shutdown")

    async def _cancel(self, tasks: list[asyncio.Task[None]]) -> None:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t

    def _install_signal_handlers(self) -> list[signal.Signals]:
        if not self._handle_signals:
            return []
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self.stop)
            except (NotImplementedError, RuntimeError, ValueError):
                continue
            installed.append(sig)
        return installed
