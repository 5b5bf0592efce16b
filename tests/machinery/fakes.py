"""In-memory stand-ins for the I/O boundary (pure unit tests only): a scripted ListerWatcher."""

from __future__ import annotations

import asyncio
import builtins
from collections import deque
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from zenflow.errors import AlreadyExistsError, ConflictError, UnreachableError
from zenflow.machinery.leaderelection import LeaderElectionRecord, LeaseStore, ObservedLease
from zenflow.machinery.listwatch import ListerWatcher

ListResult = tuple[builtins.list[dict[str, Any]], str]
Script = builtins.list[object] | Exception

HANG = object()
"""In a watch script: stay silent (neither yield nor end) until cancelled."""


def obj(name: str, rv: str, *, namespace: str = "ns", **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "resourceVersion": rv}
    meta.update(extra)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}


def event(etype: str, o: dict[str, Any]) -> dict[str, Any]:
    return {"type": etype, "object": o}


def bookmark(rv: str) -> dict[str, Any]:
    return {
        "type": "BOOKMARK",
        "object": {"kind": "ConfigMap", "metadata": {"resourceVersion": rv}},
    }


def gone_event() -> dict[str, Any]:
    return {
        "type": "ERROR",
        "object": {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"},
    }


@dataclass
class WatchCall:
    resource_version: str
    timeout_seconds: int
    allow_bookmarks: bool


@dataclass
class ScriptedListerWatcher(ListerWatcher):
    """``lists``: results (or exceptions) returned by successive ``list`` calls (the last one
    repeats). ``watches``: per watch call, an exception raised at connect, or a list of raw lines /
    exceptions (raised mid-stream) / HANG; the stream ends cleanly after its script. Once scripts
    run out, watches hang."""

    lists: deque[ListResult | Exception] = field(default_factory=deque)
    watches: deque[Script] = field(default_factory=deque)
    resource: str = "configmaps"
    list_calls: int = 0
    watch_calls: builtins.list[WatchCall] = field(default_factory=list)
    open_streams: int = 0
    closed_streams: int = 0

    async def list(self) -> tuple[builtins.list[dict[str, Any]], str]:
        self.list_calls += 1
        result = self.lists.popleft() if len(self.lists) > 1 else self.lists[0]
        if isinstance(result, Exception):
            raise result
        return result

    def watch(
        self, resource_version: str, *, timeout_seconds: int, allow_bookmarks: bool
    ) -> AsyncGenerator[object, None]:
        self.watch_calls.append(WatchCall(resource_version, timeout_seconds, allow_bookmarks))
        script: Script = self.watches.popleft() if self.watches else [HANG]
        return self._stream(script)

    async def _stream(self, script: Script) -> AsyncGenerator[object, None]:
        if isinstance(script, Exception):
            raise script
        self.open_streams += 1
        try:
            for item in script:
                if item is HANG:
                    await asyncio.Event().wait()
                    continue
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            self.closed_streams += 1


class MemoryLeaseStore(LeaseStore):
    """One Lease shared by several electors; ``hang``/``fail`` simulate a broken API server."""

    description = "test/lease"

    def __init__(self) -> None:
        self.lease: ObservedLease | None = None
        self.rv = 0
        self.hang = False
        self.fail = False
        self.updates: list[tuple[str, str]] = []  # (holder, resourceVersion sent)
        self.events: list[str] = []
        self.before_update: list[Callable[[], None]] = []

    async def _io(self) -> None:
        if self.hang:
            await asyncio.Event().wait()
        if self.fail:
            raise UnreachableError("connection refused")

    async def get(self) -> ObservedLease | None:
        await self._io()
        return self.lease

    async def create(self, record: LeaderElectionRecord) -> ObservedLease:
        await self._io()
        if self.lease is not None:
            raise AlreadyExistsError("exists", status=409, reason="AlreadyExists")
        return self._store(record)

    async def update(self, record: LeaderElectionRecord, resource_version: str) -> ObservedLease:
        await self._io()
        self.updates.append((record.holder_identity, resource_version))
        for hook in self.before_update:
            hook()
        if self.lease is None or self.lease.resource_version != resource_version:
            raise ConflictError("stale", status=409, reason="Conflict")
        return self._store(record)

    async def event(self, reason: str, message: str) -> None:
        self.events.append(message)

    def _store(self, record: LeaderElectionRecord) -> ObservedLease:
        self.rv += 1
        self.lease = ObservedLease(record, str(self.rv))
        return self.lease

    def put(
        self, holder: str, *, renew: datetime, duration: int = 15, transitions: int = 0
    ) -> None:
        self._store(LeaderElectionRecord(holder, duration, renew, renew, transitions))
