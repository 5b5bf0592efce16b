"""The test's own record of every change of every JobFlow of a namespace, for sharding tests.

``FlowAudit`` runs an informer (no transform: managedFields kept) and keeps, per flow, each
version it saw in watch order: the shard and drain labels, the phase, and who wrote the status
in that version -- the status-subresource managedFields entries (field manager
``zenflow-controller/<shard>``) that are new or carry a new time compared with the version
before. ``caught_up`` proves the record is complete up to now (a marker flow's label change is
seen after everything before it: a watch delivers events in order).

Invariants checked by ``check``:
  * every status write is by the shard the flow is labelled for in that very version;
  * the writers of one flow never interleave (A..A B..B: a writer never comes back);
  * every move of a flow between shards goes A -> (no label: A acknowledged a drain) -> B,
    or A -> B directly only when A had been stopped or killed by then.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubernetes_asyncio import client

from tests.support.informers import synced
from zenflow.api.constants import FIELD_MANAGER, LABEL_DRAIN, LABEL_SHARD
from zenflow.controller.listwatch import jobflows_lister_watcher
from zenflow.machinery.informer import Informer

PREFIX = f"{FIELD_MANAGER}/"


@dataclass(frozen=True, slots=True)
class Version:
    shard: str | None
    draining: bool
    phase: str | None
    writers: frozenset[str]
    seen_at: float


@dataclass
class FlowAudit:
    api: client.ApiClient
    namespace: str
    versions: dict[str, list[Version]] = field(default_factory=dict)
    _entries: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.informer = Informer(jobflows_lister_watcher(self.api, namespace=self.namespace))
        self.informer.add_event_handler(self._seen, lambda _old, new: self._seen(new), None)

    def _seen(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        name = meta["name"]
        labels = meta.get("labels") or {}
        entries = {
            e["manager"].removeprefix(PREFIX): (str(e.get("time")), repr(e.get("fieldsV1")))
            for e in meta.get("managedFields") or []
            if e.get("subresource") == "status" and str(e.get("manager", "")).startswith(PREFIX)
        }
        before = self._entries.get(name, {})
        writers = frozenset(m for m, (t, _) in entries.items() if before.get(m, ("",))[0] != t)
        self._entries[name] = entries
        self.versions.setdefault(name, []).append(
            Version(
                shard=labels.get(LABEL_SHARD),
                draining=labels.get(LABEL_DRAIN) == "true",
                phase=(obj.get("status") or {}).get("phase"),
                writers=writers,
                seen_at=time.monotonic(),
            )
        )

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[FlowAudit]:
        async with synced(self.informer):
            yield self

    def shards(self) -> dict[str, str | None]:
        """Each flow's shard label now (as last seen)."""
        return {name: vs[-1].shard for name, vs in self.versions.items()}

    def check(self, *, stopped: Mapping[str, float]) -> dict[str, int]:
        """Assert the invariants (module docstring); ``stopped``: shard -> monotonic time the
        test stopped or killed it. Returns counts of moves by kind."""
        moves = {"drained": 0, "dead": 0}
        for name, versions in self.versions.items():
            finished: list[str] = []
            for v in versions:
                for writer in v.writers:
                    assert writer == v.shard, (name, writer, v)
                    if not finished or finished[-1] != writer:
                        assert writer not in finished, (name, "writers interleave", versions)
                        finished.append(writer)
            for prev, cur in itertools.pairwise(versions):
                if prev.shard is None or cur.shard == prev.shard:
                    continue
                if cur.shard is None:
                    assert prev.draining, (name, "label removed without a drain", prev, cur)
                    moves["drained"] += 1
                    continue
                gone = stopped.get(prev.shard)
                assert gone is not None, (name, "moved from a live owner without a drain", cur)
                assert gone <= cur.seen_at, (name, "moved before its owner stopped", prev, cur)
                moves["dead"] += 1
        return moves
