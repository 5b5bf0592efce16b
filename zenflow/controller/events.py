"""A non-blocking recorder of core/v1 Events on JobFlows (and CronJobFlows: pass ``kind``) that
costs few API writes: repeats are aggregated into one Event's count (``eventseries``).

``record`` never waits and never fails: it adds an occurrence to its series
(object, type, reason) and schedules the series' write; background tasks (``run``) write
through their own sink, which in ``zenflow controller`` is an API client with its own rate
limit (``--event-qps``/``--event-burst``), so Events never take a token from Job creates.

When a series is written:

  * its first write waits ``gather_s`` (so the 8 steps a fan-out starts in one reconcile make
    one Event with count 8);
  * later writes (a merge patch of ``count``, ``lastTimestamp`` and ``message`` of the stored
    Event; a new Event if it was deleted) wait until ``interval_s`` after the previous one;
  * an *urgent* occurrence — a Warning, or an ``EventSpec`` marked ``final`` (the flow reached
    a terminal phase) — is written at once together with everything pending about the same
    object, so a flow's whole story is stored within moments of its end;
  * each series' spam budget (``eventseries``) bounds its writes; urgency spends it too.

``flush`` writes everything recorded so far at once and returns when it is stored (tests,
shutdown). Events are informative — the status is the record of truth — so a failed write is
logged and counted, not retried, and a full series table drops the occurrence (counted).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

from zenflow.api.constants import API_VERSION, FIELD_MANAGER, JOBFLOW_KIND
from zenflow.api.formats import format_time
from zenflow.controller.eventseries import MAX_MESSAGE, MAX_SERIES, Series, SeriesKey, SeriesTable
from zenflow.core.planning.flowstatus import EventSpec
from zenflow.errors import NotFoundError
from zenflow.kube.errors import status_error
from zenflow.kube.rest import MERGE_PATCH, Rest
from zenflow.kube.transport import DEFAULT_REQUEST_TIMEOUT_S, JSON, Transport
from zenflow.logging import get_logger
from zenflow.machinery.clock import Clock, RealClock, TimerHandle

if TYPE_CHECKING:
    from kubernetes_asyncio import client

log = get_logger(__name__)

COMPONENT: Final = FIELD_MANAGER
GATHER_S: Final = 1.0
INTERVAL_S: Final = 300.0
"""client-go's event series are written every 30 minutes; a flow's end writes everything."""
WRITERS: Final = 4


class EventSink(Protocol):
    """Where Events are stored (``EventWriter``; a fake in unit tests)."""

    async def create_event(self, *, namespace: str, event: dict[str, Any]) -> None: ...

    async def patch_event(self, *, namespace: str, name: str, patch: dict[str, Any]) -> None:
        """Merge-patch a stored Event; raises ``NotFoundError`` when it is gone."""
        ...


class EventWriter:
    """``EventSink`` over the API server (its own client: its own rate limit)."""

    def __init__(
        self,
        api: client.ApiClient | Transport,
        *,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT_S,
    ) -> None:
        self._rest = Rest(api, timeout=request_timeout)

    async def create_event(self, *, namespace: str, event: dict[str, Any]) -> None:
        await self._write("POST", f"/api/v1/namespaces/{namespace}/events", event, JSON)

    async def patch_event(self, *, namespace: str, name: str, patch: dict[str, Any]) -> None:
        path = f"/api/v1/namespaces/{namespace}/events/{name}"
        await self._write("PATCH", path, patch, MERGE_PATCH)

    async def _write(self, method: str, path: str, body: dict[str, Any], content: str) -> None:
        """The write, its answer checked but not decoded (nobody reads a stored Event back)."""
        what = f"{method.lower()} {path}"
        reply = await self._rest.send(method, path, body=body, content_type=content, what=what)
        if not 200 <= reply.status <= 299:
            raise status_error(reply.status, reply.reason, reply.body, what=what)


def build_event(
    *, flow: dict[str, Any], spec: EventSpec, now: datetime, kind: str = JOBFLOW_KIND
) -> dict[str, Any]:
    """A core/v1 Event about ``flow`` (a raw object dict of zenflow's ``kind``), count 1."""
    meta = flow.get("metadata") or {}
    name = str(meta.get("name", ""))
    stamp = format_time(now)
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": event_name(name), "namespace": meta.get("namespace")},
        "involvedObject": {
            "apiVersion": API_VERSION,
            "kind": kind,
            "name": name,
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        },
        "reason": spec.reason,
        "message": spec.message[:MAX_MESSAGE],
        "type": spec.type,
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


def event_name(object_name: str) -> str:
    """A fresh Event name (a DNS subdomain, ≤ 253: room left for the suffix)."""
    return f"{object_name[:200].rstrip('.-')}.{secrets.token_hex(8)}"


class EventRecorder:
    """Aggregate Events into series and write them in the background (``run`` until
    cancelled). Counters: ``recorded`` occurrences, ``written`` writes (``created`` +
    ``patched``), ``dropped`` occurrences (table full), ``failed`` writes."""

    def __init__(
        self,
        sink: EventSink,
        *,
        clock: Clock | None = None,
        capacity: int = MAX_SERIES,
        gather_s: float = GATHER_S,
        interval_s: float = INTERVAL_S,
        writers: int = WRITERS,
    ) -> None:
        self._sink = sink
        self._clock: Clock = clock or RealClock()
        self._table = SeriesTable(capacity)
        self._gather, self._interval, self._writers = gather_s, interval_s, writers
        self._heap: list[tuple[float, int, Series]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        self._timer: tuple[float, TimerHandle] | None = None
        self.recorded = self.written = self.created = self.patched = 0
        self.dropped = self.failed = 0

    # -- recording -----------------------------------------------------------------------------

    def record(self, *, flow: dict[str, Any], spec: EventSpec, kind: str = JOBFLOW_KIND) -> None:
        """Add an occurrence of ``spec`` about ``flow`` (a ``kind`` object); never blocks."""
        now = self._clock.now()
        wall = self._clock.wall()
        meta = flow.get("metadata") or {}
        key: SeriesKey = (
            str(meta.get("namespace") or ""),
            kind,
            str(meta.get("name") or ""),
            str(meta.get("uid") or ""),
            spec.type,
            spec.reason,
        )
        series = self._table.get(key, now)
        if series is None:
            template = build_event(flow=flow, spec=spec, now=wall, kind=kind)
            series = Series(key, template, first=format_time(wall), refilled=now)
            if not self._table.add(series):
                self.dropped += 1
                return
        self.recorded += 1
        series.add(spec.message, wall=format_time(wall), now=now)
        self._table.seen(series)
        if (spec.type == "Warning" or spec.final) and series.take_token(now):
            for other in self._table.of_object(series.object_key):
                self._force(other, now)
            return
        if series.writing:
            return  # rescheduled when the write ends
        if series.name is None:
            self._schedule(series, now + self._gather)
        else:
            self._schedule(series, self._next_write(series, now))

    def idle(self) -> bool:
        """Nothing recorded waits to be written."""
        return not self._table.busy()

    async def flush(self) -> None:
        """Write everything recorded so far now; return once it is stored (or failed)."""
        now = self._clock.now()
        targets = [(s, s.count) for s in self._table if s.pending]
        for series, _ in targets:
            self._force(series, now)
        while any(s.written < count for s, count in targets):
            self._progress.clear()
            await self._progress.wait()

    # -- writing -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Write series as they fall due, ``writers`` at a time, until cancelled."""
        slots = asyncio.Semaphore(self._writers)
        tasks: set[asyncio.Task[None]] = set()

        def done(task: asyncio.Task[None]) -> None:
            tasks.discard(task)
            slots.release()

        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                for series in self._due(self._clock.now()):
                    await slots.acquire()
                    task = asyncio.create_task(self._write(series))
                    tasks.add(task)
                    task.add_done_callback(done)
                self._arm()
        finally:
            for task in tasks:
                task.cancel()

    def _force(self, series: Series, now: float) -> None:
        if not series.pending:
            return
        if series.writing:
            series.urgent = True
            return
        series.forced = True
        self._schedule(series, now)

    def _next_write(self, series: Series, now: float) -> float:
        last = series.last_write if series.last_write is not None else now
        return max(now, last + self._interval)

    def _schedule(self, series: Series, when: float) -> None:
        if series.due is not None and series.due <= when:
            return
        series.due = when
        heapq.heappush(self._heap, (when, next(self._seq), series))
        if self._timer is None or when < self._timer[0]:
            self._wake.set()

    def _due(self, now: float) -> list[Series]:
        out = []
        while self._heap and self._heap[0][0] <= now:
            when, _, series = heapq.heappop(self._heap)
            if series.due != when:
                continue  # superseded by an earlier schedule
            series.due = None
            if series.pending and not series.writing:
                out.append(series)
        return out

    def _arm(self) -> None:
        """One timer, for the earliest scheduled write."""
        while self._heap and self._heap[0][2].due != self._heap[0][0]:
            heapq.heappop(self._heap)
        if self._timer is not None:
            self._timer[1].cancel()
            self._timer = None
        if self._heap:
            when = self._heap[0][0]
            self._timer = (when, self._clock.call_at(when, self._wake.set))

    async def _write(self, series: Series) -> None:
        now = self._clock.now()
        if not series.forced and not series.take_token(now):
            self._schedule(series, series.token_at(now))  # over its spam budget: fold more
            return
        series.forced, series.writing = False, True
        count, message, last = series.count, series.message(), series.last
        try:
            await self._store(series, count=count, message=message, last=last)
            self.written += 1
        except Exception as exc:  # an Event lost must not stop the recorder
            self.failed += 1
            log.warning("event_write_failed", reason=series.key[5], error=str(exc))
        finally:
            series.written = count
            series.writing = False
            series.last_write = self._clock.now()
            self._progress.set()
        if series.pending:
            if series.urgent:
                series.urgent = False
                self._force(series, series.last_write)
            else:
                self._schedule(series, self._next_write(series, series.last_write))

    async def _store(self, series: Series, *, count: int, message: str, last: str) -> None:
        namespace = series.key[0]
        if series.name is not None:
            patch = {"count": count, "lastTimestamp": last, "message": message}
            try:
                await self._sink.patch_event(namespace=namespace, name=series.name, patch=patch)
                self.patched += 1
                return
            except NotFoundError:
                pass  # expired or deleted: store the series anew
        event = dict(series.template)
        name = event_name(series.key[2])
        event["metadata"] = {**event["metadata"], "name": name}
        event.update(count=count, message=message, firstTimestamp=series.first, lastTimestamp=last)
        await self._sink.create_event(namespace=namespace, event=event)
        series.name = name
        self.created += 1
