"""``executionPolicy.ttlSecondsAfterFinished``: when a finished flow is deleted.

Unset keeps the flow forever. The clock starts at ``status.completionTime``; deleting the flow
cascades to its Jobs, Pods, PVCs and ConfigMaps through their owner references.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


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
