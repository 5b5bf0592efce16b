"""The informer's indexed cache of raw API objects (client-go ``ThreadSafeStore`` + ``Indexer``).

Objects are plain dicts exactly as the API server sent them, keyed by ``namespace/name``. Readers
get the cached dicts themselves (no copies, for speed and memory): they must treat them as
read-only and copy before editing. Only the informer mutates the store.

Invariant: for every indexer ``name`` and every cached key ``k``, ``k`` is in
``_indices[name][v]`` exactly for the values ``v`` in ``indexer(obj_k)``.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from typing import Any

from zenflow.machinery.reconcile import ObjectKey, key_of

Obj = dict[str, Any]
IndexFunc = Callable[[Obj], list[str]]

NAMESPACE_INDEX = "namespace"


def namespace_index(obj: Obj) -> list[str]:
    namespace = obj.get("metadata", {}).get("namespace")
    return [namespace] if isinstance(namespace, str) and namespace else []


class Store:
    def __init__(self) -> None:
        self._items: dict[ObjectKey, Obj] = {}
        self._indexers: dict[str, IndexFunc] = {}
        self._indices: dict[str, dict[str, set[ObjectKey]]] = {}

    # -- reads ---------------------------------------------------------------------------------

    def get(self, key: str) -> Obj | None:
        return self._items.get(ObjectKey(key))

    def list(self) -> builtins.list[Obj]:
        return list(self._items.values())

    def keys(self) -> builtins.list[ObjectKey]:
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def by_index(self, index_name: str, value: str) -> builtins.list[Obj]:
        return [self._items[k] for k in self.index_keys(index_name, value)]

    def index_keys(self, index_name: str, value: str) -> builtins.list[ObjectKey]:
        if index_name not in self._indexers:
            raise KeyError(f"no indexer named {index_name!r}")
        return sorted(self._indices[index_name].get(value, ()))

    # -- indexers ------------------------------------------------------------------------------

    def add_indexer(self, name: str, fn: IndexFunc) -> None:
        """Register an index; existing objects are indexed at once."""
        if name in self._indexers:
            raise ValueError(f"indexer {name!r} already exists")
        self._indexers[name] = fn
        self._indices[name] = {}
        for key, obj in self._items.items():
            self._index(name, key, obj)

    # -- writes (informer only) ----------------------------------------------------------------

    def upsert(self, obj: Obj) -> Obj | None:
        """Store ``obj``; return the previous object under its key, if any."""
        key = key_of(obj)
        old = self._items.get(key)
        if old is not None:
            self._unindex(key, old)
        self._items[key] = obj
        for name in self._indexers:
            self._index(name, key, obj)
        return old

    def delete(self, key: str) -> Obj | None:
        """Remove ``key``; return the object that was cached."""
        okey = ObjectKey(key)
        old = self._items.pop(okey, None)
        if old is not None:
            self._unindex(okey, old)
        return old

    def replace(
        self, objs: Iterable[Obj]
    ) -> tuple[builtins.list[Obj], builtins.list[tuple[Obj, Obj]], builtins.list[Obj]]:
        """Make the cache exactly ``objs``. Returns (added, updated as (old, new), deleted with
        their last known state) — deleted are the tombstones of keys missing from a relist."""
        fresh: dict[ObjectKey, Obj] = {key_of(o): o for o in objs}
        deleted = [self._items[k] for k in self._items if k not in fresh]
        for obj in deleted:
            self.delete(key_of(obj))
        added: builtins.list[Obj] = []
        updated: builtins.list[tuple[Obj, Obj]] = []
        for obj in fresh.values():
            old = self.upsert(obj)
            if old is None:
                added.append(obj)
            else:
                updated.append((old, obj))
        return added, updated, deleted

    def _index(self, name: str, key: ObjectKey, obj: Obj) -> None:
        index = self._indices[name]
        for value in self._indexers[name](obj):
            index.setdefault(value, set()).add(key)

    def _unindex(self, key: ObjectKey, obj: Obj) -> None:
        for name, fn in self._indexers.items():
            index = self._indices[name]
            for value in fn(obj):
                members = index.get(value)
                if members is not None:
                    members.discard(key)
                    if not members:
                        del index[value]
