"""Truthful history of a step's Jobs: creates the API server refused for now, and Jobs that
vanished.

- A Job create refused by a ResourceQuota (403 "exceeded quota"), throttled (429) or failing
  for another passing reason is a wait, not a failure: the step stays Pending (a retry stays
  Retrying) with a reason and a message naming what refused it, and the create is tried again
  after a delay that grows with the time spent waiting (half of it, from 1 s up to 60 s), so a
  quota that frees is noticed within a minute and a full one is not hammered. The first refusal
  sets the step's ``startTime``: the step tried to start then.
- A Job deleted while its step ran is a failed attempt (``derive``); its Event says so.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from zenflow.api.formats import clip
from zenflow.api.reasons import (
    REASON_JOB_CREATE_FAILED,
    REASON_JOB_DELETED,
    REASON_QUOTA_EXCEEDED,
    REASON_THROTTLED,
)
from zenflow.api.status import StepStatus
from zenflow.core.planning.flowstatus import EventSpec

CREATE_WAIT_REASONS: Final = frozenset(
    {REASON_QUOTA_EXCEEDED, REASON_THROTTLED, REASON_JOB_CREATE_FAILED}
)
MIN_CREATE_RETRY_S: Final = 1.0
MAX_CREATE_RETRY_S: Final = 60.0


def create_refusal(status: int | None, message: str) -> tuple[str, str] | None:
    """(reason, message) when a failed Job create is a wait — refused by a ResourceQuota (403
    "exceeded quota", or the quota not yet counted), throttled (429), or a passing failure
    (5xx, no answer) — else None (for good: the caller fails the step or retries the
    reconcile)."""
    if status == 403 and "quota" in message:
        return REASON_QUOTA_EXCEEDED, message
    if status == 429:
        return REASON_THROTTLED, message
    if status is None or status == 0 or status >= 500:
        return REASON_JOB_CREATE_FAILED, message
    return None


def create_retry_delay(*, since: datetime, now: datetime) -> float:
    """Seconds until the next try of a create refused since ``since``."""
    waited = max((now - since).total_seconds(), 0.0)
    return min(max(waited / 2, MIN_CREATE_RETRY_S), MAX_CREATE_RETRY_S)


def create_wait_status(
    *,
    step: str,
    prev: StepStatus | None,
    job: str,
    refused: tuple[str, str],
    attempt: int,
    since: datetime,
    now: datetime,
) -> StepStatus:
    """The status of a step whose Job ``job`` could not be created: (reason, message)."""
    reason, why = refused
    delay = create_retry_delay(since=since, now=now)
    message = clip(f"Job {job} not created yet: {why}; trying again in {delay:.0f}s")
    at = now + timedelta(seconds=delay)
    if prev is not None and prev.phase == "Retrying":
        return prev.model_copy(update={"message": message, "next_retry_time": at})
    return StepStatus(
        name=step,
        phase="Pending",
        reason=reason,
        message=message,
        start_time=since,
        attempt=attempt,
        next_retry_time=at,
    )


def create_held(status: StepStatus, now: datetime) -> bool:
    """True while a step whose create was refused waits for its next try."""
    return (
        status.phase == "Pending"
        and status.reason in CREATE_WAIT_REASONS
        and status.next_retry_time is not None
        and status.next_retry_time > now
    )


def job_deleted_event(step: str, job: str, attempt: int) -> EventSpec:
    return EventSpec(
        "Warning",
        REASON_JOB_DELETED,
        f'step "{step}": Job {job} was deleted while it ran; attempt {attempt} counts as failed',
    )
