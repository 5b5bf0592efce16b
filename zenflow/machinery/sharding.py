"""The sharder's decision: given the live members and every object's placement, what to do.
Generic: objects are opaque keys with a kind, a shard key and labels' values; which objects
share a shard key is the caller's rule (zenflow.controller.sharding.keys).

An object's *unit* is the set of objects sharing its shard key; a unit's desired
owner is ``ring.owner(shard key)``. Invariants of ``decide``:
  * Never two owners: an object is assigned (labelled) only when it has no live owner -- it is
    unassigned (new, or its owner acknowledged a drain) or its owner is dead (membership Lease
    expired or released; a dead owner has stopped reconciling before its Lease expires).
  * Moving an object away from a LIVE owner is never direct: the object is marked for draining,
    and only its owner's acknowledgement (removing the labels) makes it assignable.
  * A unit is never split across two live owners: while any object of a unit is held by a live
    member other than the desired one, the unit's other objects wait (they are drained, or stay
    unassigned) instead of being assigned to the desired owner.
  * With no live member nothing is decided.
  * ``move_jobs`` is set when the object may already have Jobs (it had an owner, or it was
    reconciled before, ``has_history``): their shard label must follow before the flow's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from zenflow.machinery.ring import Ring


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one object stands. ``kind``: ``JobFlow`` or ``CronJobFlow``; ``key``:
    ``<ns>/<name>``; ``owner``: its shard label (None when unassigned); ``draining``: its drain
    label is set; ``has_history``: it was reconciled before (it may have Jobs)."""

    kind: str
    key: str
    shard_key: str
    owner: str | None
    draining: bool = False
    has_history: bool = False
    resource_version: str = ""


@dataclass(frozen=True, slots=True)
class Action:
    """``assign``: label ``placement`` for ``to`` (``reason``: new, dead or drained); ``drain``:
    ask its live owner to let it go (``to`` is where it will go)."""

    verb: Literal["assign", "drain"]
    placement: Placement
    to: str
    reason: Literal["new", "dead", "drained", "rebalance"]
    move_jobs: bool = False


def decide(placements: Iterable[Placement], alive: frozenset[str], ring: Ring) -> list[Action]:
    """The actions that bring every object toward its desired owner (see the invariants).
    ``alive``: members that may hold objects (their Lease has not expired); ``ring``: over the
    members that may be given objects (a subset of ``alive``)."""
    if not alive:
        return []
    units: dict[str, list[Placement]] = {}
    for p in placements:
        units.setdefault(p.shard_key, []).append(p)
    actions: list[Action] = []
    for shard_key, unit in units.items():
        desired = ring.owner(shard_key)
        if desired is None or desired not in alive:
            continue
        holders = {p.owner for p in unit if p.owner in alive and p.owner != desired}
        if holders:
            actions.extend(
                Action("drain", p, desired, "rebalance")
                for p in unit
                if p.owner in holders and not p.draining
            )
            continue
        for p in unit:
            if p.owner == desired:
                continue
            if p.owner is None:
                reason: Literal["new", "drained", "dead"] = "drained" if p.has_history else "new"
                actions.append(Action("assign", p, desired, reason, move_jobs=p.has_history))
            else:  # its owner is dead
                actions.append(Action("assign", p, desired, "dead", move_jobs=True))
    return actions
