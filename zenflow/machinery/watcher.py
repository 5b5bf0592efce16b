"""A watcher: an informer without a cache. List+watch a resource with the reflector's semantics
(resourceVersions, bookmarks, relist on 410, backoff, stall detection) and hand every object to
the handlers, keeping nothing.

For signals whose objects the controller never reads back: zenflow's pods, of which only "a pod
of this Job succeeded" matters (``zenflow.controller.podsignals``). An informer caching every
pod of every finished step would hold tens of thousands of objects for nothing.

Handlers get ``(event_type, obj)``: ``ADDED``, ``MODIFIED`` or ``DELETED`` from watch events,
and ``ADDED`` for every item of a list (a relist repeats them: handlers must be idempotent, and
a delete missed while disconnected is not reported — no cache, no tombstone). ``has_synced``
turns true once the first list has been handed out. An optional ``transform`` runs first; an
object it cannot handle, or an undecodable placeholder, is logged, counted and skipped.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

from zenflow.logging import get_logger
from zenflow.machinery.backoff import Backoff
from zenflow.machinery.clock import Clock, RealClock
from zenflow.machinery.listwatch import ListerWatcher, undecodable_reason
from zenflow.machinery.metrics import MachineryMetrics
from zenflow.machinery.reflector import Reflector
from zenflow.machinery.transform import Transform

log = get_logger(__name__)

Obj = dict[str, Any]
Handler = Callable[[str, Obj], None]


class Watcher:
    def __init__(
        self,
        lister_watcher: ListerWatcher,
        *,
        clock: Clock | None = None,
        stall_timeout: float = 150.0,
        metrics: MachineryMetrics | None = None,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        transform: Transform | None = None,
    ) -> None:
        self.resource = lister_watcher.resource
        self._transform = transform
        self._handlers: list[Handler] = []
        self._synced = asyncio.Event()
        self._metrics = metrics
        self._log = log.bind(resource=self.resource)
        self.reflector = Reflector(
            lister_watcher,
            self,
            clock=clock or RealClock(),
            stall_timeout=stall_timeout,
            backoff=backoff,
            rng=rng,
            on_watch_error=self._count_watch_error,
        )

    def add_handler(self, handler: Handler) -> None:
        self._handlers.append(handler)

    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        await self._synced.wait()

    async def run(self) -> None:
        """List and watch until cancelled."""
        await self.reflector.run()

    # -- ReflectorSink -------------------------------------------------------------------------

    def replace(self, items: list[Obj], resource_version: str) -> None:
        if self._metrics is not None:
            self._metrics.informer_relists.labels(self.resource).inc()
        for obj in items:
            self._deliver("ADDED", obj)
        if not self._synced.is_set():
            self._synced.set()
            self._log.info("informer_synced", items=len(items))

    def apply(self, event_type: str, obj: Obj) -> None:
        if self._metrics is not None:
            self._metrics.informer_event(self.resource, event_type)
        self._deliver(event_type, obj)

    # -- internals -----------------------------------------------------------------------------

    def _deliver(self, event_type: str, obj: Obj) -> None:
        reason = undecodable_reason(obj)
        if reason is None and self._transform is not None:
            try:
                obj = self._transform(obj)
            except Exception as exc:
                reason = f"transform failed: {exc!r}"
        if reason is not None:
            meta = obj.get("metadata") or {}
            self._log.warning(
                "informer_object_undecodable",
                name=meta.get("name"),
                namespace=meta.get("namespace"),
                reason=reason,
            )
            if self._metrics is not None:
                self._metrics.informer_undecodable.labels(self.resource).inc()
            return
        for handler in self._handlers:
            try:
                handler(event_type, obj)
            except Exception:
                self._log.exception(
                    "informer_handler_failed", handler=getattr(handler, "__name__", "?")
                )

    def _count_watch_error(self, reason: str) -> None:
        if self._metrics is not None:
            self._metrics.informer_watch_errors.labels(self.resource, reason).inc()
