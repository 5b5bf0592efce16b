"""Retry decisions for a failed step attempt: is another attempt allowed, and when.

A step's ``retryPolicy.limit`` bounds its own retries; ``executionPolicy.backoffLimit`` bounds
the retries of all steps of the flow together. The delay before retry n (1 = the first) is
``Backoff.delay_seconds(n)`` counted from the failed attempt's finish time, so the schedule is
derived from the Jobs alone and survives a controller restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from zenflow.api.jobflow import Step


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """``retry``: another attempt is allowed, at ``at``. Otherwise ``reason`` says why not."""

    retry: bool
    at: datetime | None = None
    reason: str | None = None


def decide_retry(
    *,
    step: Step,
    retry_count: int,
    failed_at: datetime,
    flow_retries: int,
    backoff_limit: int | None,
) -> RetryDecision:
    """Whether the step, whose attempt after ``retry_count`` retries failed at ``failed_at``,
    runs again. ``flow_retries`` counts retries already used by all steps of the flow."""
    policy = step.retry_policy
    limit = policy.limit if policy is not None else 0
    if retry_count >= limit:
        return RetryDecision(retry=False, reason="RetryLimitExceeded" if limit else None)
    if backoff_limit is not None and flow_retries >= backoff_limit:
        return RetryDecision(retry=False, reason="BackoffLimitExceeded")
    delay = 0.0
    if policy is not None and policy.backoff is not None:
        delay = policy.backoff.delay_seconds(retry_count + 1)
    return RetryDecision(retry=True, at=failed_at + timedelta(seconds=delay))
