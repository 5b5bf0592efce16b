"""The reflector: client-go's list+watch loop, feeding an informer's cache (MACHINERY.md #8 to #13).

- List, hand the full set to the sink (which computes adds/updates/tombstones), then watch from
  the list's resourceVersion with bookmarks and a server-side timeout drawn from 5-10 minutes.
- A clean end of the stream re-watches from the last resourceVersion, no relist.
- Bookmarks only advance the resourceVersion.
- 410 Gone (HTTP status or ERROR event) relists; it never retries the same version.
- Other failures (unreachable, 429, 5xx, truncated or malformed lines, a stall) back off with
  jitter and re-watch from the last version; an empty stream that ends at once counts as a failure
  so it cannot become a hot loop.
- A watch silent for ``stall_timeout`` is cancelled and resumed.

Invariant: ``resource_version`` is the version of the newest state delivered to the sink.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from typing import Any, Protocol

from zenflow.errors import GoneError, KubeError
from zenflow.logging import get_logger
from zenflow.machinery.backoff import Backoff
from zenflow.machinery.clock import Clock, RealClock, TimerHandle
from zenflow.machinery.listwatch import ListerWatcher, MalformedEventError, parse_event

log = get_logger(__name__)

# A stream that ends this fast with no event is treated as a failure (backoff), not a clean end.
MIN_HEALTHY_WATCH_S = 1.0


class ReflectorSink(Protocol):
    def replace(self, items: list[dict[str, Any]], resource_version: str) -> None: ...

    def apply(self, event_type: str, obj: dict[str, Any]) -> None: ...


class WatchStalledError(Exception):
    """No event (not even a bookmark) arrived within the stall timeout."""


class WatchErrorEvent(Exception):
    """The server sent an ERROR event other than 410."""


class Reflector:
    def __init__(
        self,
        lister_watcher: ListerWatcher,
        sink: ReflectorSink,
        *,
        clock: Clock | None = None,
        stall_timeout: float = 150.0,
        watch_timeout_range: tuple[int, int] = (300, 600),
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        on_watch_error: Callable[[str], None] | None = None,
    ) -> None:
        self._lw = lister_watcher
        self._sink = sink
        self._clock: Clock = clock or RealClock()
        self.stall_timeout = stall_timeout
        self.watch_timeout_range = watch_timeout_range
        self._rng = rng or random.Random()
        self._backoff = backoff or Backoff(clock=self._clock, rng=self._rng)
        self._on_watch_error = on_watch_error
        self.resource_version = ""
        self.lists = 0
        self.watches = 0
        self._log = log.bind(resource=lister_watcher.resource)

    async def run(self) -> None:
        """List and watch until cancelled."""
        while True:
            try:
                items, rv = await self._lw.list()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed("list", exc)
                await self._backoff.wait()
                continue
            self.lists += 1
            self.resource_version = rv
            well_formed = [i for i in items if _has_identity(i)]
            if len(well_formed) != len(items):
                self._log.warning(
                    "informer_list_items_dropped", count=len(items) - len(well_formed)
                )
            self._sink.replace(well_formed, rv)
            self._log.debug("informer_listed", items=len(items), resource_version=rv)
            await self._watch_until_gone()

    async def _watch_until_gone(self) -> None:
        """Watch from ``resource_version``, resuming after failures; return when a relist is
        needed (410 Gone)."""
        while True:
            started = self._clock.now()
            self.watches += 1
            try:
                events = await self._watch_once()
            except asyncio.CancelledError:
                raise
            except GoneError as exc:
                self._failed("gone", exc, level="info")
                return
            except Exception as exc:
                self._failed(_reason(exc), exc)
                await self._backoff.wait()
                continue
            if events == 0 and self._clock.now() - started < MIN_HEALTHY_WATCH_S:
                self._failed("empty_stream", None)
                await self._backoff.wait()

    async def _watch_once(self) -> int:
        """One watch request; returns how many events it delivered when it ends cleanly."""
        timeout = self._rng.randint(*self.watch_timeout_range)
        events = 0
        stream = self._lw.watch(
            self.resource_version, timeout_seconds=timeout, allow_bookmarks=True
        )
        async with contextlib.aclosing(stream), _Watchdog(self._clock, self.stall_timeout) as dog:
            async for raw in stream:
                dog.feed()
                event = parse_event(raw)
                if event.type == "ERROR":
                    raise _status_error(event.object)
                if event.type != "BOOKMARK":
                    self._sink.apply(event.type, event.object)
                if event.resource_version:
                    self.resource_version = event.resource_version
                events += 1
        return events

    def _failed(self, reason: str, exc: BaseException | None, *, level: str = "warning") -> None:
        if self._on_watch_error is not None:
            self._on_watch_error(reason)
        getattr(self._log, level)(
            "informer_watch_interrupted",
            reason=reason,
            error=repr(exc) if exc is not None else None,
            resource_version=self.resource_version,
        )


def _has_identity(obj: dict[str, Any]) -> bool:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return False
    name, namespace = meta.get("name"), meta.get("namespace", "")
    return isinstance(name, str) and bool(name) and isinstance(namespace, str)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, WatchStalledError):
        return "stalled"
    if isinstance(exc, MalformedEventError):
        return "malformed_event"
    if isinstance(exc, WatchErrorEvent):
        return "error_event"
    if isinstance(exc, KubeError):
        return f"http_{exc.status}" if exc.status else "unreachable"
    return type(exc).__name__


def _status_error(status: dict[str, Any]) -> Exception:
    code = status.get("code")
    message = str(status.get("message", ""))
    reason = str(status.get("reason", ""))
    if code == 410 or reason in ("Expired", "Gone"):
        return GoneError(f"watch: 410 {reason}: {message}", status=410, reason=reason)
    return WatchErrorEvent(f"watch ERROR event {code} {reason}: {message}")


class _Watchdog:
    """Cancels the current task if ``feed`` is not called for ``timeout`` seconds, and turns that
    cancellation into ``WatchStalledError`` (the way ``asyncio.timeout`` does it). One timer per
    timeout period, not per event."""

    def __init__(self, clock: Clock, timeout: float) -> None:
        self._clock = clock
        self._timeout = timeout
        self._last = 0.0
        self._stalled = False
        self._task: asyncio.Task[Any] | None = None
        self._timer: TimerHandle | None = None

    def feed(self) -> None:
        self._last = self._clock.now()

    async def __aenter__(self) -> _Watchdog:
        self._task = asyncio.current_task()
        self._last = self._clock.now()
        self._timer = self._clock.call_at(self._last + self._timeout, self._check)
        return self

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._stalled and exc_type is asyncio.CancelledError:
            assert self._task is not None
            if self._task.uncancel() == 0:
                raise WatchStalledError(f"no watch event for {self._timeout:.1f}s") from exc

    def _check(self) -> None:
        deadline = self._last + self._timeout
        if self._clock.now() >= deadline:
            self._stalled = True
            if self._task is not None:
                self._task.cancel()
        else:
            self._timer = self._clock.call_at(deadline, self._check)
