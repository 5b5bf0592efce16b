"""The flow deadline (zenflow.core.planning.deadlines): unset, pending, exceeded at the boundary."""

from __future__ import annotations

import pytest

from tests.core.planning.driver import T0, at
from zenflow.core.planning.deadlines import check_flow_deadline


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
