"""What to do when the API server refuses a flow's status as too large (``etcdserver: request is
too large``, 413, or a 422 on the object's size): the flow must not freeze with Jobs running
under a status that can never be written.

``too_large_plan`` stops the flow (running Jobs deleted, unfinished steps ended, phase Failed,
reason ``StatusTooLarge``, a condition and an Event saying so) with a *compact* status: no
outputs, no per-shard entries, short step messages — a few hundred bytes per step, which fits
whatever pushed the full one over. The validator's estimate keeps flows far from the limit;
this is the backstop for what it cannot foresee (metadata grown by other writers, a smaller
etcd limit).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from zenflow.api.jobflow import JobFlow
from zenflow.api.reasons import REASON_STATUS_TOO_LARGE
from zenflow.api.status import JobFlowStatus
from zenflow.core.observed import Observed
from zenflow.core.planning.plan import Plan, stop

COMPACT_MESSAGE: Final = 80
"""Longest step message kept in a compact status."""


def refused_as_too_large(status: int | None, message: str) -> bool:
    """Whether the API server refused a write because the object would be too large: etcd's
    ``request is too large`` (a 500), a 413, or a size refusal of the API server itself."""
    text = message.lower()
    return (
        status == 413
        or "too large" in text
        or (status == 422 and "too long" in text and "bytes" in text)
    )


def too_large_plan(flow: JobFlow, observed: Observed, now: datetime, *, refusal: str) -> Plan:
    """Stop ``flow`` because its status write was refused (``refusal``: the server's words)."""
    message = (
        f"the API server refused the flow's status as too large ({refusal}); the flow was "
        "stopped, its running Jobs deleted, and its status compacted (outputs and matrix "
        "shards dropped)"
    )
    result = stop(flow, observed, now, reason=REASON_STATUS_TOO_LARGE, message=message)
    result.status = compact(result.status)
    return result


def compact(status: JobFlowStatus) -> JobFlowStatus:
    """``status`` without outputs and shard entries, and with short step messages."""
    steps = [
        st.model_copy(
            update={
                "outputs": None,
                "shards": None,
                "message": st.message[:COMPACT_MESSAGE] if st.message else None,
            }
        )
        for st in status.steps or []
    ]
    return status.model_copy(update={"steps": steps or None})
