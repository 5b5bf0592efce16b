"""Fan-out of "this object changed" from the informers to the browsers' event streams.

Informer handlers call ``Hub.publish(kind, key)`` (synchronous, cheap); each subscription whose
filter wants the key records it in its dirty set and wakes its stream. The stream then reads the
*current* object from the informer's cache, so a burst of changes to one flow costs one message,
a slow browser never makes memory grow (at most one pending mark per key), and what is sent is
never older than the cache.

Invariants: a key published after ``Subscription.take`` returned is in the next ``take``;
``Hub.close`` wakes every subscription and makes ``take`` return None from then on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["flow", "cron", "health"]
Mark = tuple[Kind, str]
Wants = Callable[[Kind, str], bool]


@dataclass(frozen=True, slots=True)
class Changes:
    """What changed since the last ``take``: object keys per kind, and whether the connection
    health changed."""

    flows: frozenset[str] = frozenset()
    crons: frozenset[str] = frozenset()
    health: bool = False


@dataclass(eq=False)
class Subscription:
    wants: Wants
    _dirty: set[Mark] = field(default_factory=set)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _closed: bool = False

    def mark(self, kind: Kind, key: str) -> None:
        if kind == "health" or self.wants(kind, key):
            self._dirty.add((kind, key))
            self._wake.set()

    def close(self) -> None:
        self._closed = True
        self._wake.set()

    async def take(self, *, wait_s: float) -> Changes | None:
        """Wait up to ``wait_s`` seconds for changes; returns them (empty on timeout), or
        None once the hub is closed."""
        if not self._dirty and not self._closed:
            try:
                async with asyncio.timeout(wait_s):
                    await self._wake.wait()
            except TimeoutError:
                pass
        if self._closed:
            return None
        self._wake.clear()
        dirty, self._dirty = self._dirty, set()
        return Changes(
            flows=frozenset(k for kind, k in dirty if kind == "flow"),
            crons=frozenset(k for kind, k in dirty if kind == "cron"),
            health=any(kind == "health" for kind, _ in dirty),
        )


class Hub:
    def __init__(self) -> None:
        self._subs: set[Subscription] = set()
        self.closed = False

    def subscribe(self, wants: Wants) -> Subscription:
        sub = Subscription(wants)
        if self.closed:
            sub.close()
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    def publish(self, kind: Kind, key: str) -> None:
        for sub in self._subs:
            sub.mark(kind, key)

    def close(self) -> None:
        self.closed = True
        for sub in self._subs:
            sub.close()

    def __len__(self) -> int:
        return len(self._subs)
