"""The flow-wide deadline (``executionPolicy.activeDeadlineSeconds``), counted from the flow's
``status.startTime`` (when its first step could start, after any concurrency queueing).

Step deadlines need no code here: ``timeoutSeconds`` becomes each attempt's Job
``activeDeadlineSeconds`` and the Job controller enforces it (the Job fails with reason
DeadlineExceeded, an ordinary failed attempt that may be retried).
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
