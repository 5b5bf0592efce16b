"""What the JobFlow reconciler remembers about each flow between two reconciles.

Nothing here is the record of truth (that is the flow, its status and its Jobs): a restarted
controller starts with empty memory and re-derives everything. The memory only saves work or
bridges the gap until the informer caches show our own writes:

  * ``specs``: validated specs by (uid, generation) (``parsing.SpecCache``);
  * ``expected``: Jobs we created that the Job cache does not show yet, on the injected clock
    (``machinery.expectations``), so a reconcile racing its own watch never re-plans a create;
  * ``written``: the flow as our last status patch returned it, until the cache has that version;
  * conflicts found while applying a plan (a resource template or Job name held by an object the
    flow does not own, a Job the API server rejects), and Job creates refused for now (a
    ResourceQuota, throttling: ``waits``), handed to the next ``plan`` and dropped once a status
    built from them is written. Lost in a restart, they are found again: the creates are
    repeated and meet the same conflict.

Everything is keyed by the flow's uid; ``track`` notices a flow deleted and re-created under
the same name (a new uid) and forgets the old one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zenflow.controller.jobflow.parsing import SpecCache
from zenflow.machinery.clock import Clock
from zenflow.machinery.expectations import Expectations, LatestWrites
from zenflow.machinery.reconcile import ObjectKey

Conflict = tuple[str, str]
"""(reason, message) of a Job create refused for good."""


class FlowMemory:
    """Per-flow memory of one reconciler (see the module docstring)."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        self.specs = SpecCache()
        self.expected: Expectations[dict[str, Any]] = Expectations(clock=clock)
        self.written = LatestWrites()
        self._resource_conflicts: dict[str, str] = {}
        self._create_conflicts: dict[str, dict[str, Conflict]] = {}
        self._create_waits: dict[str, dict[str, Conflict]] = {}
        self._uids: dict[ObjectKey, str] = {}

    def track(self, key: ObjectKey, uid: str) -> None:
        """``key`` now names the flow ``uid``; what belonged to an earlier namesake is dropped."""
        if self._uids.get(key) not in (None, uid):
            self.forget_key(key)
        self._uids[key] = uid

    def resource_conflict(self, uid: str) -> str | None:
        return self._resource_conflicts.get(uid)

    def create_conflicts(self, uid: str) -> Mapping[str, Conflict]:
        return self._create_conflicts.get(uid, {})

    def create_waits(self, uid: str) -> Mapping[str, Conflict]:
        """Job name → (reason, message) of creates refused for now."""
        return self._create_waits.get(uid, {})

    def conflicted(
        self,
        uid: str,
        *,
        resource: str | None = None,
        steps: Mapping[str, Conflict] = {},
        waits: Mapping[str, Conflict] = {},
    ) -> None:
        """Applying a plan of ``uid`` met these conflicts (and ``waits``: Job name → refusal
        for now): the next plan must see them."""
        if resource is not None:
            self._resource_conflicts[uid] = resource
        if steps:
            self._create_conflicts.setdefault(uid, {}).update(steps)
        if waits:
            self._create_waits.setdefault(uid, {}).update(waits)

    def planned_with_conflicts(self, uid: str) -> None:
        """A status built from the remembered conflicts is written: they are in it now."""
        self._resource_conflicts.pop(uid, None)
        self._create_conflicts.pop(uid, None)
        self._create_waits.pop(uid, None)

    def settled(self, uid: str) -> None:
        """The flow is finished: drop what only an unfinished flow needs."""
        self.specs.forget(uid)
        self.expected.forget(uid)
        self.planned_with_conflicts(uid)

    def forget_key(self, key: ObjectKey) -> str | None:
        """The flow that had ``key`` is gone: drop all of it; returns its uid if known."""
        uid = self._uids.pop(key, None)
        if uid is not None:
            self.written.forget(uid)
            self.settled(uid)
        return uid
