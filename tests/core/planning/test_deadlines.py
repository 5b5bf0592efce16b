"""Time limits (zenflow.core.planning.deadlines): the flow deadline (unset, pending, exceeded at the
boundary) and the TTL after finished (keep when unset or unfinished, wait, delete)."""

from __future__ import annotations

import pytest

from tests.core.planning.driver import T0, at
from zenflow.core.planning.deadlines import check_flow_deadline, decide_ttl


@pytest.mark.parametrize(
    ("deadline", "now", "exceeded", "remaining"),
    [
        pytest.param(None, 1000, False, None, id="unset"),
        pytest.param(60, 10, False, 50.0, id="running"),
        pytest.param(60, 60, True, None, id="boundary"),
        pytest.param(60, 61, True, None, id="late"),
    ],
)
def test_check_flow_deadline(
    deadline: int | None, now: float, exceeded: bool, remaining: float | None
) -> None:
    check = check_flow_deadline(start_time=T0, active_deadline_seconds=deadline, now=at(now))
    assert (check.exceeded, check.remaining) == (exceeded, remaining)


def test_no_start_time_means_no_deadline_yet() -> None:
    assert not check_flow_deadline(start_time=None, active_deadline_seconds=1, now=at(99)).exceeded


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
