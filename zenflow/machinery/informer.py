"""A shared informer: reflector + indexed store + event handlers + "has synced".

The cache is updated before any handler runs, so a handler (and a reconcile it triggers) always
sees at least the state it is told about; an update handler receives the previous cached object
(MACHINERY.md #14). ``has_synced`` turns true only after the first list has been stored and every
handler has been called for it (MACHINERY.md #15). Handlers are plain functions that should only
enqueue keys; one that raises is logged and never stops the informer. An optional
``transform`` (``zenflow.machinery.transform``) edits each object before the store and the
handlers see it. An object that cannot be decoded or transformed is cached as a placeholder
(``listwatch.placeholder``), logged and counted (``zenflow_informer_undecodable_objects``):
one bad object never stops the informer or hides the others.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zenflow.logging import get_logger
from zenflow.machinery.backoff import Backoff
from zenflow.machinery.clock import Clock, RealClock
from zenflow.machinery.listwatch import ListerWatcher, placeholder, undecodable_reason
from zenflow.machinery.metrics import MachineryMetrics
from zenflow.machinery.reconcile import ObjectKey, key_of, make_key
from zenflow.machinery.reflector import Reflector
from zenflow.machinery.store import IndexFunc, Obj, Store
from zenflow.machinery.transform import Transform

log = get_logger(__name__)

OWNER_INDEX = "owner"


def owner_key(obj: Obj, kind: str, *, api_version: str) -> ObjectKey | None:
    """The key of ``obj``'s owner of ``kind``/``api_version`` (same namespace), preferring the
    controller reference; None when it has none."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return None
    refs = meta.get("ownerReferences")
    if not isinstance(refs, list):
        return None
    namespace = meta.get("namespace") or ""
    found: str | None = None
    for ref in refs:
        if not isinstance(ref, dict):
            continue
        if ref.get("kind") != kind or ref.get("apiVersion") != api_version:
            continue
        name = ref.get("name")
        if not isinstance(name, str) or not name:
            continue
        if ref.get("controller") is True:
            return make_key(str(namespace), name)
        found = found or name
    return make_key(str(namespace), found) if found else None


def owner_indexer(kind: str, *, api_version: str) -> IndexFunc:
    """An index from an object to its owner's key (use with ``OWNER_INDEX``)."""

    def index(obj: Obj) -> list[str]:
        key = owner_key(obj, kind, api_version=api_version)
        return [key] if key else []

    return index


AddHandler = Callable[[Obj], None]
UpdateHandler = Callable[[Obj, Obj], None]
DeleteHandler = Callable[[Obj], None]


@dataclass(frozen=True, slots=True)
class _Handlers:
    on_add: AddHandler | None
    on_update: UpdateHandler | None
    on_delete: DeleteHandler | None


class Informer:
    def __init__(
        self,
        lister_watcher: ListerWatcher,
        *,
        clock: Clock | None = None,
        stall_timeout: float = 150.0,
        resync_period: float | None = None,
        metrics: MachineryMetrics | None = None,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        transform: Transform | None = None,
    ) -> None:
        self.resource = lister_watcher.resource
        self.store = Store()
        # Applied to every delivered object (list items, watch events, deletes) before the
        # store or any handler sees it; None caches objects exactly as the server sent them.
        self._transform = transform
        self._clock: Clock = clock or RealClock()
        self._handlers: list[_Handlers] = []
        self._synced = asyncio.Event()
        self._resync_period = resync_period
        self._metrics = metrics
        self._log = log.bind(resource=self.resource)
        self.reflector = Reflector(
            lister_watcher,
            self,
            clock=self._clock,
            stall_timeout=stall_timeout,
            backoff=backoff,
            rng=rng,
            on_watch_error=self._count_watch_error,
        )

    # -- public API ----------------------------------------------------------------------------

    def add_indexer(self, name: str, fn: IndexFunc) -> None:
        self.store.add_indexer(name, fn)

    def add_event_handler(
        self,
        on_add: AddHandler | None = None,
        on_update: UpdateHandler | None = None,
        on_delete: DeleteHandler | None = None,
    ) -> None:
        """Register handlers; objects already cached are replayed to ``on_add``."""
        handlers = _Handlers(on_add, on_update, on_delete)
        self._handlers.append(handlers)
        if on_add is not None:
            for obj in self.store.list():
                self._call(on_add, obj)

    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        await self._synced.wait()

    async def run(self) -> None:
        """List and watch until cancelled (resyncing handlers periodically if configured)."""
        if self._resync_period is None:
            await self.reflector.run()
            return
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.reflector.run())
            tg.create_task(self._resync_loop(self._resync_period))

    # -- ReflectorSink -------------------------------------------------------------------------

    def replace(self, items: list[dict[str, Any]], resource_version: str) -> None:
        items = [self._admit(o) for o in items]
        added, updated, deleted = self.store.replace(items)
        if self._metrics is not None:
            self._metrics.informer_relists.labels(self.resource).inc()
        for obj in deleted:  # tombstones: last known state of keys gone while we were away
            self._notify_delete(obj)
        for obj in added:
            self._notify_add(obj)
        for old, new in updated:
            if _rv(old) != _rv(new):
                self._notify_update(old, new)
        if not self._synced.is_set():
            self._synced.set()
            self._log.info("informer_synced", items=len(self.store))

    def apply(self, event_type: str, obj: dict[str, Any]) -> None:
        if self._metrics is not None:
            self._metrics.informer_event(self.resource, event_type)
        obj = self._admit(obj)
        if event_type == "DELETED":
            old = self.store.delete(key_of(obj))
            if old is not None:
                self._notify_delete(obj)
            return
        old = self.store.upsert(obj)
        if old is None:
            self._notify_add(obj)
        else:
            self._notify_update(old, obj)

    # -- internals -----------------------------------------------------------------------------

    def _admit(self, obj: Obj) -> Obj:
        """``obj`` transformed, or its placeholder when the transform fails; placeholders (also
        those the lister-watcher made) are logged and counted, then cached like any object."""
        if self._transform is not None:
            try:
                obj = self._transform(obj)
            except Exception as exc:
                obj = placeholder(obj, f"transform failed: {exc!r}") or obj
        reason = undecodable_reason(obj)
        if reason is not None:
            meta = obj.get("metadata") or {}
            self._log.warning(
                "informer_object_undecodable",
                name=meta.get("name"),
                namespace=meta.get("namespace"),
                resource_version=meta.get("resourceVersion"),
                reason=reason,
            )
            if self._metrics is not None:
                self._metrics.informer_undecodable.labels(self.resource).inc()
        return obj

    def _notify_add(self, obj: Obj) -> None:
        for h in self._handlers:
            if h.on_add is not None:
                self._call(h.on_add, obj)

    def _notify_update(self, old: Obj, new: Obj) -> None:
        for h in self._handlers:
            if h.on_update is not None:
                self._call(h.on_update, old, new)

    def _notify_delete(self, obj: Obj) -> None:
        for h in self._handlers:
            if h.on_delete is not None:
                self._call(h.on_delete, obj)

    def _call(self, fn: Callable[..., None], *args: Obj) -> None:
        try:
            fn(*args)
        except Exception:
            self._log.exception("informer_handler_failed", handler=getattr(fn, "__name__", "?"))

    async def _resync_loop(self, period: float) -> None:
        await self.wait_synced()
        while True:
            await self._clock.sleep(period)
            for obj in self.store.list():
                self._notify_update(obj, obj)

    def _count_watch_error(self, reason: str) -> None:
        if self._metrics is not None:
            self._metrics.informer_watch_errors.labels(self.resource, reason).inc()


def without_version(obj: Obj) -> Obj:
    """``obj`` with ``metadata.resourceVersion`` blanked (a shallow copy): two cached versions
    compare equal this way when an update changed nothing else the cache keeps -- for a cache
    that keeps only what its controller reads, an update that controller can ignore."""
    meta = obj.get("metadata")
    kept = meta if isinstance(meta, dict) else {}
    return {**obj, "metadata": {**kept, "resourceVersion": None}}


def _rv(obj: Obj) -> object:
    meta = obj.get("metadata")
    return meta.get("resourceVersion") if isinstance(meta, dict) else None
