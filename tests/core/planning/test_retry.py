"""Retry decisions (zenflow.core.planning.retry): the step's limit, the flow-wide budget, and the
time of the next attempt for Fixed, Linear and Exponential backoff with a cap."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.core.planning.driver import T0
from zenflow.api.jobflow import Step
from zenflow.core.planning.retry import decide_retry


def _step(policy: dict[str, object] | None) -> Step:
    body: dict[str, object] = {"name": "s", "run": {"image": "x"}}
    if policy is not None:
        body["retryPolicy"] = policy
    return Step.model_validate(body)


@pytest.mark.parametrize(
    ("policy", "retry_count", "flow_retries", "budget", "expected"),
    [
        pytest.param(None, 0, 0, None, (False, None, None), id="no-policy"),
        pytest.param({"limit": 2}, 0, 0, None, (True, 0.0, None), id="immediate"),
        pytest.param({"limit": 2}, 2, 0, None, (False, None, "RetryLimitExceeded"), id="limit"),
        pytest.param({"limit": 2}, 0, 3, 3, (False, None, "BackoffLimitExceeded"), id="budget"),
        pytest.param(
            {"limit": 5, "backoff": {"type": "Fixed", "duration": "5s"}},
            3,
            0,
            None,
            (True, 5.0, None),
            id="fixed",
        ),
        pytest.param(
            {"limit": 5, "backoff": {"type": "Linear", "duration": "5s"}},
            2,
            0,
            None,
            (True, 15.0, None),
            id="linear-third",
        ),
        pytest.param(
            {"limit": 5, "backoff": {"type": "Exponential", "duration": "1s"}},
            3,
            0,
            None,
            (True, 8.0, None),
            id="exponential-default-factor",
        ),
        pytest.param(
            {"limit": 9, "backoff": {"duration": "1s", "factor": 3, "maxDuration": "10s"}},
            4,
            0,
            None,
            (True, 10.0, None),
            id="capped",
        ),
    ],
)
def test_decide_retry(
    policy: dict[str, object] | None,
    retry_count: int,
    flow_retries: int,
    budget: int | None,
    expected: tuple[bool, float | None, str | None],
) -> None:
    decision = decide_retry(
        step=_step(policy),
        retry_count=retry_count,
        failed_at=T0,
        flow_retries=flow_retries,
        backoff_limit=budget,
    )
    retry, delay, reason = expected
    assert decision.retry is retry
    assert decision.reason == reason
    if delay is None:
        assert decision.at is None
    else:
        assert decision.at == T0 + timedelta(seconds=delay)
