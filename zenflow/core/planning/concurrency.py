"""``executionPolicy.concurrencyPolicy`` among the JobFlows of one concurrency group.

The group of a flow is its ``workflow.zen.io/concurrency-group`` label, else its
``generateName`` prefix, else none (the flow is alone). Flows are ordered by
(creationTimestamp, name): "older" and "newer" below refer to that order. creationTimestamp has
whole-second precision, so flows created within the same second are ordered by name.

- Allow: flows run together.
- Forbid: a flow that has not started waits (Pending, condition Queued naming the flow ahead)
  while any older flow of the group is unfinished. The queue is FIFO: when the running flow
  finishes, the oldest waiting one starts.
- Replace: an unfinished flow cancels itself (reason Replaced) as soon as a newer flow of the
  group has policy Replace; that newer flow waits (Queued) until every older one finished,
  which takes one reconcile of each older flow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from zenflow.api.constants import LABEL_CONCURRENCY_GROUP
from zenflow.core.observed import PeerFlow


def concurrency_group(metadata: Mapping[str, Any]) -> str | None:
    """The flow's group name, or None when it is alone."""
    labels = metadata.get("labels") or {}
    group = labels.get(LABEL_CONCURRENCY_GROUP)
    if isinstance(group, str) and group:
        return group
    prefix = metadata.get("generateName")
    if isinstance(prefix, str) and prefix:
        return prefix
    return None


@dataclass(frozen=True, slots=True)
class ConcurrencyDecision:
    """``replaced_by``: cancel this flow; ``queued_behind``: wait for that flow; else go."""

    replaced_by: str | None = None
    queued_behind: str | None = None


def decide_concurrency(
    *,
    name: str,
    created: datetime,
    policy: str,
    started: bool,
    peers: Sequence[PeerFlow],
) -> ConcurrencyDecision:
    """The decision for one unfinished flow given its group's other flows."""
    me = (created, name)
    newer = sorted((p for p in peers if (p.created, p.name) > me), key=_order)
    for peer in newer:
        if peer.policy == "Replace" and not peer.finished:
            return ConcurrencyDecision(replaced_by=peer.name)
    if started or policy == "Allow":
        return ConcurrencyDecision()
    older = sorted((p for p in peers if (p.created, p.name) < me and not p.finished), key=_order)
    if older:
        running = [p for p in older if p.started]
        ahead = running[0] if running else older[0]
        return ConcurrencyDecision(queued_behind=ahead.name)
    return ConcurrencyDecision()


def _order(peer: PeerFlow) -> tuple[datetime, str]:
    return (peer.created, peer.name)
