"""A controller's own writes that its informer cache has not shown yet ("read your own writes").

``Expectations`` remembers objects a controller created, per owner, until the cache shows them
(as client-go's ReplicaSet controller keeps its ControllerExpectations), so a reconcile racing
its own watch never plans the same create twice. An expectation older than ``ttl`` seconds of
the injected clock is dropped: a create that never reaches the cache (the object was deleted at
once) is not assumed to exist forever.

``LatestWrites`` remembers, per object uid, the object as the server returned it from our last
update, while the cache still holds an older resourceVersion, so the next reconcile starts from
what we wrote rather than from a stale copy.

Both are plain in-memory maps, owned by one controller process: a restarted controller starts
empty and re-derives everything from the API server (creates of deterministic names adopt).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from zenflow.machinery.clock import Clock, RealClock

T = TypeVar("T")

DEFAULT_EXPECTATION_TTL_S = 60.0
"""A created object not seen in the cache after this long is no longer assumed to exist."""


class Expectations(Generic[T]):
    """owner → name → (when created, the created object). Invariant: every name held was
    expected less than ``ttl`` seconds ago (checked lazily, when the owner's are read)."""

    def __init__(self, *, ttl: float = DEFAULT_EXPECTATION_TTL_S, clock: Clock | None = None):
        self._ttl = ttl
        self._clock: Clock = clock or RealClock()
        self._by_owner: dict[str, dict[str, tuple[float, T]]] = {}

    def __len__(self) -> int:
        """Owners with expectations."""
        return len(self._by_owner)

    def expect(self, owner: str, name: str, obj: T) -> None:
        """``owner`` created ``obj`` under ``name``; the cache may not show it yet."""
        self._by_owner.setdefault(owner, {})[name] = (self._clock.now(), obj)

    def observed(self, owner: str, name: str) -> None:
        """``name`` needs no expectation any more (e.g. it was deleted)."""
        names = self._by_owner.get(owner)
        if names is not None:
            names.pop(name, None)
            if not names:
                del self._by_owner[owner]

    def pending(self, owner: str, *, cached: Callable[[str], bool]) -> dict[str, T]:
        """The objects ``owner`` created that the cache does not show yet (``cached(name)`` is
        false) and that are younger than the ttl; the others are forgotten."""
        names = self._by_owner.get(owner)
        if not names:
            return {}
        oldest = self._clock.now() - self._ttl
        for name in [n for n, (at, _) in names.items() if at < oldest or cached(n)]:
            del names[name]
        if not names:
            del self._by_owner[owner]
            return {}
        return {name: obj for name, (_, obj) in names.items()}

    def forget(self, owner: str) -> None:
        """Drop every expectation of ``owner`` (it finished or is gone)."""
        self._by_owner.pop(owner, None)


class LatestWrites:
    """uid → the object our last write returned, while it is newer than the cache's copy.
    Invariant: each held object's resourceVersion is above the one last seen in the cache."""

    def __init__(self) -> None:
        self._objects: dict[str, dict[str, Any]] = {}

    def __contains__(self, uid: object) -> bool:
        return uid in self._objects

    def __len__(self) -> int:
        return len(self._objects)

    def wrote(self, uid: str, obj: dict[str, Any]) -> None:
        """Our write of ``uid`` returned ``obj``."""
        self._objects[uid] = obj

    def freshest(self, uid: str, cached: dict[str, Any]) -> dict[str, Any]:
        """``cached``, or the copy we wrote when that is newer (the watch has not delivered our
        own write yet); a written copy the cache has caught up with is dropped."""
        written = self._objects.get(uid)
        if written is None:
            return cached
        mine, theirs = _version(written), _version(cached)
        if mine is not None and theirs is not None and mine > theirs:
            return written
        del self._objects[uid]
        return cached

    def caught_up(self, cached: dict[str, Any]) -> None:
        """An informer update handler: drop our copy once the cache has that version (so a
        backlog of queued reconciles does not keep thousands of copies alive)."""
        uid = (cached.get("metadata") or {}).get("uid")
        if isinstance(uid, str) and uid in self._objects:
            self.freshest(uid, cached)

    def get(self, uid: str) -> dict[str, Any] | None:
        return self._objects.get(uid)

    def forget(self, uid: str) -> None:
        self._objects.pop(uid, None)


def _version(obj: dict[str, Any]) -> int | None:
    """The resourceVersion as a number; None when missing or not numeric (never newer)."""
    try:
        return int(obj["metadata"]["resourceVersion"])
    except (KeyError, TypeError, ValueError):
        return None
