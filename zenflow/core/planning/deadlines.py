"""Time limits of a flow: the flow-wide deadline while it runs, and its TTL once finished.

``executionPolicy.activeDeadlineSeconds`` counts from ``status.startTime`` (when the flow's
first step could start, after any concurrency queueing). Step deadlines need no code here:
``timeoutSeconds`` becomes each attempt's Job ``activeDeadlineSeconds`` and the Job controller
enforces it (the Job fails with reason DeadlineExceeded, an ordinary failed attempt that may be
retried).

``executionPolicy.ttlSecondsAfterFinished``: unset keeps a finished flow forever; otherwise the
clock starts at ``status.completionTime``, and deleting the flow cascades to its Jobs, Pods,
PVCs and ConfigMaps through their owner references.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class DeadlineCheck:
    """``exceeded`` now, else ``remaining`` seconds (None when there is no deadline)."""

    exceeded: bool
    remaining: float | None = None


def check_flow_deadline(
    *, start_time: datetime | None, active_deadline_seconds: int | None, now: datetime
) -> DeadlineCheck:
    """Has the flow run out of time?"""
    if active_deadline_seconds is None or start_time is None:
        return DeadlineCheck(exceeded=False)
    deadline = start_time + timedelta(seconds=active_deadline_seconds)
    if now >= deadline:
        return DeadlineCheck(exceeded=True)
    return DeadlineCheck(exceeded=False, remaining=(deadline - now).total_seconds())


@dataclass(frozen=True, slots=True)
class TtlDecision:
    """``delete`` now, or call again after ``requeue_after`` seconds, or neither (keep)."""

    delete: bool
    requeue_after: float | None = None


def decide_ttl(
    *, completion_time: datetime | None, ttl_seconds: int | None, now: datetime
) -> TtlDecision:
    """What to do with a finished flow."""
    if ttl_seconds is None or completion_time is None:
        return TtlDecision(delete=False)
    expiry = completion_time + timedelta(seconds=ttl_seconds)
    if now >= expiry:
        return TtlDecision(delete=True)
    return TtlDecision(delete=False, requeue_after=(expiry - now).total_seconds())
