"""Tests of the consistent-hash ring (zenflow.machinery.ring).

Aspects: an empty ring owns nothing; owners are deterministic (the same for a ring built in
another order, and fixed values that would change if Python's salted hash() were used); three
members each own a third of 30,000 keys within ±15%; a member joining takes keys only for
itself and a member leaving gives away only its own (minimal movement, about 1/N); invalid
virtual node counts are refused.
"""

from __future__ import annotations

from collections import Counter

import pytest

from zenflow.machinery.ring import Ring, ring_point

KEYS = [f"ns/flow/flow-{i}" for i in range(30_000)]


def owners(ring: Ring) -> dict[str, str | None]:
    return {key: ring.owner(key) for key in KEYS}


def test_empty_ring_owns_nothing() -> None:
    assert Ring([]).owner("ns/flow/a") is None


def test_owner_is_deterministic_and_independent_of_member_order() -> None:
    a = Ring(["a", "b", "c"])
    b = Ring(["c", "a", "b"])
    assert owners(a) == owners(b)
    # sha256, not hash(): the same number in every process
    assert ring_point("x") == int.from_bytes(bytes.fromhex("2d711642b726b044"), "big")


def test_three_members_share_keys_evenly() -> None:
    counts = Counter(owners(Ring(["replica-a", "replica-b", "replica-c"])).values())
    assert set(counts) == {"replica-a", "replica-b", "replica-c"}
    for member, count in counts.items():
        assert abs(count - len(KEYS) / 3) < 0.15 * len(KEYS) / 3, (member, counts)


def test_a_member_joining_takes_keys_only_for_itself() -> None:
    before = owners(Ring(["a", "b", "c"]))
    after = owners(Ring(["a", "b", "c", "d"]))
    moved = [k for k in KEYS if before[k] != after[k]]
    assert all(after[k] == "d" for k in moved)
    assert 0.15 * len(KEYS) < len(moved) < 0.35 * len(KEYS)  # about a quarter


def test_a_member_leaving_gives_away_only_its_keys() -> None:
    before = owners(Ring(["a", "b", "c"]))
    after = owners(Ring(["a", "c"]))
    moved = [k for k in KEYS if before[k] != after[k]]
    assert all(before[k] == "b" for k in moved)
    assert moved == [k for k in KEYS if before[k] == "b"]


@pytest.mark.parametrize("nodes", [0, -1])
def test_virtual_nodes_must_be_positive(nodes: int) -> None:
    with pytest.raises(ValueError, match="virtual_nodes"):
        Ring(["a"], virtual_nodes=nodes)
