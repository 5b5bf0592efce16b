"""Membership of a sharded controller (zenflow.controller.sharding.membership).

Aspects: identities become valid label values (unchanged when valid, else prefix + hash);
membership Lease names are DNS subdomains; liveness is judged from the local time a Lease change
was observed (a Lease whose renewTime is long past is alive until its duration passes after we
saw it); a released Lease (no holder) is dead at once; only members seen renewing are ready for
new objects; a deleted Lease is forgotten; long-dead Leases are offered for collection.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from zenflow.controller.sharding.membership import (
    Members,
    membership_lease_name,
    shard_identity,
)
from zenflow.machinery.clock import FakeClock


def lease(name: str, holder: str, version: str, duration: int = 10) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "resourceVersion": version},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": duration,
            "renewTime": "2000-01-01T00:00:00.000000Z",  # never read
        },
    }


@pytest.mark.parametrize(
    ("identity", "same"),
    [("pod-7d9f_89abcdef", True), ("x" * 80, False), ("Bad Name!", False)],
)
def test_identities_become_label_values(identity: str, same: bool) -> None:
    value = shard_identity(identity)
    assert (value == identity) is same
    assert len(value) <= 63
    assert re.fullmatch(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?", value)
    assert shard_identity(identity) == value  # stable


def test_membership_lease_names_are_dns_subdomains() -> None:
    name = membership_lease_name("zenflow-controller", "Pod_ABC")
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", name)
    assert name.startswith("zenflow-controller-shard-pod-abc-")
    assert name != membership_lease_name("zenflow-controller", "pod-abc")


def test_liveness_is_judged_from_local_observation() -> None:
    clock = FakeClock()
    members = Members(clock=clock)
    members.observe(lease("l1", "a", "1"))
    assert members.alive() == {"a"}
    assert members.ready() == frozenset()  # not yet seen renewing
    clock.advance(3)
    members.observe(lease("l1", "a", "2"))
    assert members.ready() == {"a"}
    clock.advance(9.9)
    assert members.alive() == {"a"}
    assert members.next_expiry() == pytest.approx(0.1)
    clock.advance(0.2)
    assert members.alive() == frozenset()
    assert members.ready() == frozenset()
    assert members.next_expiry() is None


def test_the_same_version_seen_again_is_no_renewal() -> None:
    clock = FakeClock()
    members = Members(clock=clock)
    members.observe(lease("l1", "a", "1"))
    clock.advance(8)
    members.observe(lease("l1", "a", "1"))  # a relist: nothing changed
    clock.advance(3)
    assert members.alive() == frozenset()


def test_a_released_lease_is_dead_at_once_and_deleted_ones_are_forgotten() -> None:
    members = Members(clock=FakeClock())
    members.observe(lease("l1", "a", "1"))
    members.observe(lease("l2", "b", "1"))
    members.observe(lease("l1", "", "2", duration=1))
    assert members.alive() == {"b"}
    members.forget(lease("l2", "b", "1"))
    assert members.alive() == frozenset()


def test_long_dead_leases_are_offered_for_collection() -> None:
    clock = FakeClock()
    members = Members(clock=clock)
    members.observe(lease("l1", "a", "1"))
    clock.advance(15)
    assert members.dead_leases(grace=10) == []
    clock.advance(6)
    assert members.dead_leases(grace=10) == ["l1"]
