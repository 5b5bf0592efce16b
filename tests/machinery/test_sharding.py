"""Tests of the sharder's decision (zenflow.machinery.sharding.decide).

Aspects: new objects are assigned to the ring's owner of their key (no Job move); an object of
a dead owner is assigned directly with its Jobs; an object of a live owner that is not the
desired one is drained (once: not again while draining), never assigned; a drained object (no
owner, with history) is assigned with its Jobs; a unit (shared key) is never split across two
live owners: its new objects wait while another of its objects is held elsewhere; nothing is
decided without live members; objects already in place cost nothing.
"""

from __future__ import annotations

from zenflow.machinery.ring import Ring
from zenflow.machinery.sharding import Action, Placement, decide

ALIVE = frozenset({"a", "b", "c"})
RING = Ring(ALIVE)


def key_owned_by(member: str, *, ring: Ring = RING) -> str:
    return next(k for k in (f"ns/flow/f{i}" for i in range(1000)) if ring.owner(k) == member)


def placement(
    shard_key: str, owner: str | None, *, draining: bool = False, has_history: bool = False
) -> Placement:
    name = shard_key.replace("/flow/", "/")
    return Placement("JobFlow", name, shard_key, owner, draining, has_history)


def test_a_new_object_goes_to_the_rings_owner() -> None:
    p = placement(key_owned_by("b"), None)
    assert decide([p], ALIVE, RING) == [Action("assign", p, "b", "new", move_jobs=False)]


def test_an_object_in_place_costs_nothing() -> None:
    assert decide([placement(key_owned_by("c"), "c")], ALIVE, RING) == []


def test_a_dead_owners_object_moves_directly_with_its_jobs() -> None:
    p = placement(key_owned_by("a"), "gone")
    assert decide([p], ALIVE, RING) == [Action("assign", p, "a", "dead", move_jobs=True)]


def test_a_live_owners_object_is_drained_once_never_assigned() -> None:
    p = placement(key_owned_by("a"), "b")
    assert decide([p], ALIVE, RING) == [Action("drain", p, "a", "rebalance")]
    assert decide([placement(key_owned_by("a"), "b", draining=True)], ALIVE, RING) == []


def test_a_drained_object_is_assigned_with_its_jobs() -> None:
    p = placement(key_owned_by("a"), None, has_history=True)
    assert decide([p], ALIVE, RING) == [Action("assign", p, "a", "drained", move_jobs=True)]


def test_a_unit_is_never_split_across_two_live_owners() -> None:
    shard_key = key_owned_by("a")
    held = Placement("JobFlow", "ns/one", shard_key, "b")
    new = Placement("JobFlow", "ns/two", shard_key, None)
    assert decide([held, new], ALIVE, RING) == [Action("drain", held, "a", "rebalance")]
    # once acknowledged, both go to the desired owner together
    drained = Placement("JobFlow", "ns/one", shard_key, None, has_history=True)
    assert {a.placement.key: (a.verb, a.to) for a in decide([drained, new], ALIVE, RING)} == {
        "ns/one": ("assign", "a"),
        "ns/two": ("assign", "a"),
    }


def test_nothing_without_live_members() -> None:
    assert decide([placement("ns/flow/x", None)], frozenset(), Ring([])) == []


def test_the_ring_of_two_moves_a_dead_members_objects_to_the_survivors() -> None:
    survivors = frozenset({"a", "c"})
    ring = Ring(survivors)
    placements = [placement(f"ns/flow/f{i}", "b") for i in range(300)]
    actions = decide(placements, survivors, ring)
    assert len(actions) == 300
    assert {a.to for a in actions} == {"a", "c"}
    assert all(a.verb == "assign" and a.reason == "dead" for a in actions)
