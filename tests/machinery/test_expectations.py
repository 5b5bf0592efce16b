"""Own writes the cache has not shown yet, on an injected clock.

Aspects: an expected create is pending until the cache shows it, then forgotten; it expires
after the ttl of clock time (never earlier); owners are independent; ``observed`` and ``forget``
drop expectations; ``LatestWrites`` hands out the written copy only while it is newer than the
cached one and drops it once the cache caught up (or when versions cannot be compared).
"""

from __future__ import annotations

from typing import Any

import pytest

from zenflow.machinery.clock import FakeClock
from zenflow.machinery.expectations import Expectations, LatestWrites


def _never_cached(name: str) -> bool:
    return False


def test_expected_until_the_cache_shows_it() -> None:
    exp: Expectations[str] = Expectations(clock=FakeClock())
    exp.expect("flow-a", "job-1", "created")
    assert exp.pending("flow-a", cached=_never_cached) == {"job-1": "created"}
    assert exp.pending("flow-a", cached=lambda name: name == "job-1") == {}
    assert exp.pending("flow-a", cached=_never_cached) == {}
    assert len(exp) == 0


def test_expectations_expire_after_the_ttl_of_clock_time() -> None:
    clock = FakeClock()
    exp: Expectations[str] = Expectations(ttl=60.0, clock=clock)
    exp.expect("flow-a", "job-1", "x")
    clock.advance(60.0)
    assert exp.pending("flow-a", cached=_never_cached) == {"job-1": "x"}  # not older than ttl
    clock.advance(0.001)
    assert exp.pending("flow-a", cached=_never_cached) == {}


def test_owners_are_independent_and_can_be_forgotten() -> None:
    exp: Expectations[int] = Expectations(clock=FakeClock())
    exp.expect("a", "j", 1)
    exp.expect("b", "j", 2)
    exp.forget("a")
    assert exp.pending("a", cached=_never_cached) == {}
    assert exp.pending("b", cached=_never_cached) == {"j": 2}


def test_observed_drops_one_name() -> None:
    exp: Expectations[int] = Expectations(clock=FakeClock())
    exp.expect("a", "j1", 1)
    exp.expect("a", "j2", 2)
    exp.observed("a", "j1")
    exp.observed("b", "nothing")
    assert exp.pending("a", cached=_never_cached) == {"j2": 2}


def _flow(rv: Any) -> dict[str, Any]:
    return {"metadata": {"uid": "u", "resourceVersion": rv}}


@pytest.mark.parametrize(
    ("written", "cached", "newer"),
    [
        pytest.param("12", "10", True, id="written-newer"),
        pytest.param("10", "10", False, id="caught-up"),
        pytest.param("9", "10", False, id="cache-newer"),
        pytest.param("x", "10", False, id="unreadable-written"),
        pytest.param("12", None, False, id="unreadable-cached"),
    ],
)
def test_latest_write_is_used_only_while_newer(written: Any, cached: Any, newer: bool) -> None:
    writes = LatestWrites()
    writes.wrote("u", _flow(written))
    got = writes.freshest("u", _flow(cached))
    assert got["metadata"]["resourceVersion"] == (written if newer else cached)
    assert ("u" in writes) is newer


def test_latest_writes_without_a_write_return_the_cached_object() -> None:
    writes = LatestWrites()
    cached = _flow("3")
    assert writes.freshest("u", cached) is cached
    writes.wrote("u", _flow("4"))
    writes.forget("u")
    assert writes.get("u") is None
    assert len(writes) == 0
