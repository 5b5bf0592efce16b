"""TTL after finished (zenflow.core.planning.ttl): keep when unset or unfinished, wait, delete."""

from __future__ import annotations

import pytest

from tests.core.planning.driver import T0, at
from zenflow.core.planning.ttl import decide_ttl


@pytest.mark.parametrize(
    ("ttl", "finished", "now", "delete", "requeue"),
    [
        pytest.param(None, True, 10_000, False, None, id="unset-keeps"),
        pytest.param(30, False, 10_000, False, None, id="not-finished"),
        pytest.param(30, True, 10, False, 20.0, id="waits"),
        pytest.param(30, True, 30, True, None, id="expires"),
        pytest.param(0, True, 0, True, None, id="zero"),
    ],
)
def test_decide_ttl(
    ttl: int | None, finished: bool, now: float, delete: bool, requeue: float | None
) -> None:
    decision = decide_ttl(completion_time=T0 if finished else None, ttl_seconds=ttl, now=at(now))
    assert (decision.delete, decision.requeue_after) == (delete, requeue)
