"""A non-blocking recorder of core/v1 Events on JobFlows (and CronJobFlows: pass ``kind``).

``record`` only puts the Event on a bounded in-memory queue; a background task writes them, so a
reconcile never waits for (or fails because of) an Event. When the queue is full the Event is
dropped and counted: Events are informative, the status is the record of truth.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final

from zenflow.api.constants import API_VERSION, FIELD_MANAGER, JOBFLOW_KIND
from zenflow.api.formats import format_time
from zenflow.core.planning.flowstatus import EventSpec
from zenflow.logging import get_logger

log = get_logger(__name__)

COMPONENT: Final = FIELD_MANAGER
_MAX_MESSAGE: Final = 1024

Sink = Callable[[str, dict[str, Any]], Awaitable[None]]
"""``(namespace, event)`` → writes the Event (``FlowClient.create_event``)."""


def build_event(
    *, flow: dict[str, Any], spec: EventSpec, now: datetime, kind: str = JOBFLOW_KIND
) -> dict[str, Any]:
    """A core/v1 Event about ``flow`` (a raw object dict of zenflow's ``kind``)."""
    meta = flow.get("metadata") or {}
    name = str(meta.get("name", ""))
    stamp = format_time(now)
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            # Event names are DNS subdomains (≤ 253): leave room for the suffix.
            "name": f"{name[:200].rstrip('.-')}.{secrets.token_hex(8)}",
            "namespace": meta.get("namespace"),
        },
        "involvedObject": {
            "apiVersion": API_VERSION,
            "kind": kind,
            "name": name,
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        },
        "reason": spec.reason,
        "message": spec.message[:_MAX_MESSAGE],
        "type": spec.type,
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


class EventRecorder:
    """Queue Events and write them in the background (``run`` until cancelled)."""

    def __init__(self, sink: Sink, *, capacity: int = 10_000) -> None:
        self._sink = sink
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(capacity)
        self.dropped = 0
        self.written = 0

    def record(self, *, flow: dict[str, Any], spec: EventSpec, kind: str = JOBFLOW_KIND) -> None:
        """Queue an Event about ``flow`` (a ``kind`` object); never blocks."""
        event = build_event(flow=flow, spec=spec, now=datetime.now(UTC), kind=kind)
        try:
            self._queue.put_nowait((str(event["metadata"]["namespace"]), event))
        except asyncio.QueueFull:
            self.dropped += 1

    async def run(self) -> None:
        while True:
            namespace, event = await self._queue.get()
            try:
                await self._sink(namespace, event)
                self.written += 1
            except Exception as exc:  # an Event lost must not stop the recorder
                log.warning("event_write_failed", reason=event["reason"], error=str(exc))
            finally:
                self._queue.task_done()

    async def flush(self) -> None:
        """Wait until every queued Event was written (tests, shutdown)."""
        await self._queue.join()
