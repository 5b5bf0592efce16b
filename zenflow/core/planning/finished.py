"""When a finished flow has nothing left to decide but its TTL: one rule, readable off the raw
object so the reconciler never parses or validates the spec of a finished flow.

A flow is *settled* when its status phase is terminal (Succeeded or Failed), no retry is asked
(the retry annotation is unset or carries the nonce the status already acted on), and its
status is not an Invalid verdict on an older generation (the spec was edited since: the flow
starts afresh). A settled flow changes no more; only ``executionPolicy.ttlSecondsAfterFinished``
counts, from ``status.completionTime``. ``plan`` applies the same rule to the parsed flow
(``requested_retry``, ``decide_ttl``), and the reconciler's parser drops a stale Invalid status
by ``stale_invalid``, so both paths agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from zenflow.api.constants import ANNOTATION_RETRY
from zenflow.api.formats import parse_time
from zenflow.api.reasons import REASON_INVALID, REASON_TEMPLATE_NOT_FOUND
from zenflow.api.status import FLOW_TERMINAL_PHASES
from zenflow.core.planning.deadlines import TtlDecision, decide_ttl


def requested_retry(annotations: Mapping[str, Any], seen: str | None) -> str | None:
    """The retry nonce the user set (``workflow.zen.io/retry``) that the flow has not acted on
    yet (``seen`` is the status' ``retryNonce``); None when no retry is asked."""
    nonce = annotations.get(ANNOTATION_RETRY)
    return nonce if isinstance(nonce, str) and nonce and nonce != seen else None


def stale_invalid(*, reason: object, observed_generation: object, generation: int) -> bool:
    """An Invalid (or TemplateNotFound) status recorded for another generation than the
    current one: the spec was edited since, so that verdict no longer holds."""
    return (
        reason in (REASON_INVALID, REASON_TEMPLATE_NOT_FOUND) and observed_generation != generation
    )


@dataclass(frozen=True, slots=True)
class Settled:
    """A finished flow with nothing to act on: its phase, and what its TTL asks."""

    phase: str
    ttl: TtlDecision


def settled(obj: Mapping[str, Any], now: datetime) -> Settled | None:
    """The rule on a raw JobFlow dict (metadata, status, one spec field); None when the flow
    is not settled and the planner must look at it."""
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    phase = status.get("phase")
    if phase not in FLOW_TERMINAL_PHASES:
        return None
    generation = int(meta.get("generation") or 0)
    reason, observed = status.get("reason"), status.get("observedGeneration")
    if stale_invalid(reason=reason, observed_generation=observed, generation=generation):
        return None
    if requested_retry(meta.get("annotations") or {}, status.get("retryNonce")) is not None:
        return None
    ttl = ((obj.get("spec") or {}).get("executionPolicy") or {}).get("ttlSecondsAfterFinished")
    decision = decide_ttl(
        completion_time=parse_time(status.get("completionTime")),
        ttl_seconds=ttl if isinstance(ttl, int) and not isinstance(ttl, bool) else None,
        now=now,
    )
    return Settled(phase=str(phase), ttl=decision)
