"""Event series: how the recorder (``zenflow.controller.events``) folds repeated Events into one
stored Event, after client-go's ``EventCorrelator`` (aggregator + logger + spam filter).

A *series* is every occurrence of one (object, type, reason) — e.g. all ``StepSucceeded`` of a
flow — within ``SERIES_LIFETIME_S`` of its previous occurrence. The API server stores it as one
core/v1 Event: created at the series' first write, then merge-patched (``count``,
``lastTimestamp``, ``message``) when later occurrences are written, which ``kubectl describe``
shows as ``(x8 over 3s)``. The message lists the series' distinct messages, oldest first,
clipped from the oldest side to ``MAX_MESSAGE`` characters (``'step "a" succeeded; step "b"
succeeded'``), so aggregated step starts and ends still name every step that fits.

Spam filter (client-go's ``EventSourceObjectSpamFilter``, keyed like it by object, type and
reason): each series may *write* ``SPAM_BURST`` times, then once per ``SPAM_REFILL_S``.
Occurrences beyond that budget are not written on their own: they only raise the count of the
next write the budget allows (nothing counted is lost while the series lives).

Everything here is plain data and arithmetic on times passed in; the recorder owns the clock,
the timers and the writes. Invariants: ``count >= written``; a series is *pending* when
``count > written`` and never forgotten while pending or being written.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

SERIES_LIFETIME_S: Final = 600.0
"""A series ends this long after its last occurrence (client-go's aggregation interval)."""
SPAM_BURST: Final = 25
SPAM_REFILL_S: Final = 300.0
MAX_MESSAGE: Final = 1024
MAX_MESSAGES: Final = 64
"""Distinct messages remembered per series (the message shows as many as fit)."""
MAX_SERIES: Final = 4096
"""Series remembered (client-go's LRU size); the least recently seen settled one goes first."""

SeriesKey = tuple[str, str, str, str, str, str]
"""(namespace, kind, name, uid, type, reason)."""
ObjectKey = tuple[str, str, str, str]
"""(namespace, kind, name, uid)."""


@dataclass(slots=True)
class Series:
    """One (object, type, reason) and what of it the API server holds."""

    key: SeriesKey
    template: dict[str, Any]
    """The Event to create: metadata, involvedObject, type, reason, source (no counts)."""
    first: str
    """Wall time of the first occurrence (``firstTimestamp``)."""
    last: str = ""
    """Wall time of the latest occurrence (``lastTimestamp``)."""
    last_seen: float = 0.0
    """Monotonic time of the latest occurrence (for the lifetime)."""
    count: int = 0
    written: int = 0
    """The count the stored Event holds (0: not stored yet)."""
    name: str | None = None
    """The stored Event's name, once created."""
    messages: list[str] = field(default_factory=list)
    earlier: int = 0
    """Distinct messages forgotten (beyond ``MAX_MESSAGES``)."""
    tokens: float = SPAM_BURST
    refilled: float = 0.0
    last_write: float | None = None
    due: float | None = None
    """When the pending write is scheduled (monotonic), if it is."""
    forced: bool = False
    """The scheduled write skips the spam budget (an urgent flush, ``flush``)."""
    writing: bool = False
    urgent: bool = False
    """An urgent occurrence arrived while a write was in flight: write again at once."""

    @property
    def object_key(self) -> ObjectKey:
        return self.key[:4]

    @property
    def pending(self) -> bool:
        return self.count > self.written

    def add(self, message: str, *, wall: str, now: float) -> None:
        """One more occurrence."""
        self.count += 1
        self.last = wall
        self.last_seen = now
        if message in self.messages:
            return
        self.messages.append(message)
        if len(self.messages) > MAX_MESSAGES:
            del self.messages[0]
            self.earlier += 1

    def take_token(self, now: float) -> bool:
        """Spend one write of the spam budget; False when it is spent (see ``token_at``)."""
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def token_at(self, now: float) -> float:
        """When the spam budget allows the next write."""
        self._refill(now)
        return now if self.tokens >= 1.0 else now + (1.0 - self.tokens) * SPAM_REFILL_S

    def _refill(self, now: float) -> None:
        if self.refilled:
            self.tokens = min(
                float(SPAM_BURST), self.tokens + (now - self.refilled) / SPAM_REFILL_S
            )
        self.refilled = now

    def message(self) -> str:
        """The distinct messages, oldest first, clipped from the oldest to ``MAX_MESSAGE``."""
        return fold_messages(self.messages, earlier=self.earlier)

    def expired(self, now: float) -> bool:
        return not self.pending and not self.writing and now - self.last_seen > SERIES_LIFETIME_S


def fold_messages(messages: list[str], *, earlier: int = 0, limit: int = MAX_MESSAGE) -> str:
    """``"; "``-joined messages; when too long, the newest that fit after ``"(N earlier) "``."""
    if not messages:
        return ""
    text = "; ".join(messages)
    if not earlier and len(text) <= limit:
        return text
    kept: list[str] = []
    size = 0
    for message in reversed(messages):
        size += len(message) + 2
        if kept and size + 16 > limit:
            break
        kept.append(message)
    dropped = earlier + len(messages) - len(kept)
    text = "; ".join(reversed(kept))
    if dropped:
        text = f"({dropped} earlier) {text}"
    return text[:limit]


class SeriesTable:
    """The series the recorder remembers, least recently seen first, indexed by object."""

    def __init__(self, capacity: int = MAX_SERIES) -> None:
        self.capacity = capacity
        self._series: OrderedDict[SeriesKey, Series] = OrderedDict()
        self._by_object: dict[ObjectKey, set[SeriesKey]] = {}

    def __len__(self) -> int:
        return len(self._series)

    def __iter__(self) -> Iterator[Series]:
        return iter(list(self._series.values()))

    def get(self, key: SeriesKey, now: float) -> Series | None:
        """The live series of ``key`` (an expired one is forgotten)."""
        found = self._series.get(key)
        if found is not None and found.expired(now):
            self._remove(key)
            return None
        return found

    def add(self, series: Series) -> bool:
        """Remember a new series; False when the table is full of pending series."""
        if len(self._series) >= self.capacity and not self._evict():
            return False
        self._series[series.key] = series
        self._by_object.setdefault(series.object_key, set()).add(series.key)
        return True

    def seen(self, series: Series) -> None:
        self._series.move_to_end(series.key)

    def of_object(self, key: ObjectKey) -> list[Series]:
        return [self._series[k] for k in self._by_object.get(key, ()) if k in self._series]

    def busy(self) -> bool:
        """Some series is pending or being written."""
        return any(s.pending or s.writing for s in self._series.values())

    def _evict(self) -> bool:
        for key, series in self._series.items():
            if not series.pending and not series.writing:
                self._remove(key)
                return True
        return False

    def _remove(self, key: SeriesKey) -> None:
        series = self._series.pop(key, None)
        if series is None:
            return
        keys = self._by_object.get(series.object_key)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_object[series.object_key]
