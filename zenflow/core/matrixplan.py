"""Matrix steps: one Job per value combination (shard), each with its own attempts and retries.

The combinations come from ``core.matrix.expand_matrix`` (``from`` keys resolved from upstream
outputs held in the status, so the expansion is the same at every reconcile). Shard ``i`` runs
as Jobs ``job_name(flow, step, attempt, shard=i)`` labelled ``workflow.zen.io/shard=i``.

The step is Running while any shard is unfinished; Succeeded when every shard succeeded (an
empty expansion succeeds at once); Failed once every shard is terminal and some failed. With
``matrix.failFast`` (default) no further shard starts after one failed (they end Skipped);
``maxParallel`` caps the step's running shards, and each shard also takes a slot of the flow's
``parallelism``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from zenflow.api.jobflow import Step
from zenflow.api.status import ShardStatus, StepPhase, StepStatus, is_step_terminal
from zenflow.core.observed import JobRecord
from zenflow.core.retry import decide_retry

REASON_SHARD_FAILED = "ShardFailed"


@dataclass
class ShardStart:
    """A shard Job to create: its index, attempt and retry count."""

    index: int
    attempt: int
    retry_count: int


@dataclass
class MatrixProgress:
    """The step's new status, shard Jobs to start, and when to be called again."""

    status: StepStatus
    starts: list[ShardStart] = field(default_factory=list)
    requeue_after: float | None = None


@dataclass
class MatrixGates:
    """What the flow allows this reconcile: ``may_start`` (not suspended, not stopping),
    ``slot`` (takes a flow parallelism slot, False when none is free), retry budget use."""

    may_start: bool
    slot: Callable[[], bool]
    retry_budget: Callable[[], tuple[int, int | None]]
    """(retries used by the flow, backoffLimit) — call ``use_retry`` when one is taken."""
    use_retry: Callable[[], None]


def advance_matrix(
    *,
    step: Step,
    prev: StepStatus | None,
    combos: Sequence[Mapping[str, str]],
    jobs: Sequence[JobRecord],
    gates: MatrixGates,
    now: datetime,
    first_attempt: int = 1,
) -> MatrixProgress:
    """Derive each shard from its Jobs, decide retries and starts, aggregate the step.
    ``first_attempt`` is the attempt of a shard's first Job (above 1 after a user retry)."""
    assert step.matrix is not None
    previous = {s.index: s for s in (prev.shards or [])} if prev is not None else {}
    shards: list[ShardStatus] = []
    progress = MatrixProgress(status=StepStatus(name=step.name, phase="Running"))
    waits: list[float] = []
    due: set[int] = set()
    for index in range(len(combos)):
        owned = [j for j in jobs if j.owned and j.shard == index]
        latest = max(owned, key=lambda j: j.attempt) if owned else None
        shard, is_due = _shard(index, latest, previous.get(index), step, gates, now, waits)
        shards.append(shard)
        if is_due:
            due.add(index)
    failed = any(s.phase == "Failed" for s in shards)
    running = sum(1 for s in shards if s.phase == "Running")
    cap = step.matrix.max_parallel
    for i, shard in enumerate(shards):
        if i in due:
            if gates.may_start and (cap is None or running < cap) and gates.slot():
                attempt = (shard.attempt or 1) + 1
                retry_count = (shard.retry_count or 0) + 1
                progress.starts.append(ShardStart(i, attempt, retry_count))
                shards[i] = ShardStatus(
                    index=i, phase="Running", attempt=attempt, retry_count=retry_count
                )
                running += 1
        elif shard.phase == "Pending" and not _recreate(previous.get(i)):
            if failed and step.matrix.fail_fast:
                shards[i] = ShardStatus(
                    index=i, phase="Skipped", message="not started: a shard failed (failFast)"
                )
            elif gates.may_start and (cap is None or running < cap) and gates.slot():
                progress.starts.append(ShardStart(i, first_attempt, 0))
                shards[i] = ShardStatus(index=i, phase="Running", attempt=first_attempt)
                running += 1
        elif shard.phase == "Pending":
            # The status counts on a Job the cache does not show: re-create the same name.
            old = previous[i]
            progress.starts.append(ShardStart(i, old.attempt or 1, old.retry_count or 0))
            shards[i] = old
    if waits:
        progress.requeue_after = min(waits)
    progress.status = _aggregate(step, prev, shards, now)
    return progress


def _recreate(prev: ShardStatus | None) -> bool:
    return prev is not None and prev.phase in ("Running", "Retrying")


def _shard(
    index: int,
    latest: JobRecord | None,
    prev: ShardStatus | None,
    step: Step,
    gates: MatrixGates,
    now: datetime,
    waits: list[float],
) -> tuple[ShardStatus, bool]:
    """The shard's state from its latest Job, and whether its next attempt is due now."""
    if latest is None:
        if prev is not None and prev.phase in ("Skipped", "Failed"):
            return prev, False
        return ShardStatus(index=index, phase="Pending"), False
    base: dict[str, Any] = {
        "index": index,
        "job_ref": latest.name,
        "attempt": latest.attempt,
        "retry_count": latest.retry_count or None,
    }
    if latest.phase in ("Running", "Succeeded"):
        return ShardStatus(phase=latest.phase, **base), False
    used, limit = gates.retry_budget()
    decision = decide_retry(
        step=step,
        retry_count=latest.retry_count,
        failed_at=latest.finished or now,
        flow_retries=used,
        backoff_limit=limit,
    )
    detail = ": ".join(x for x in (latest.reason, latest.message) if x)
    if not decision.retry:
        return ShardStatus(phase="Failed", message=detail[:256] or None, **base), False
    gates.use_retry()
    assert decision.at is not None
    if decision.at > now:
        waits.append((decision.at - now).total_seconds())
        return ShardStatus(phase="Retrying", message=detail[:256] or None, **base), False
    return ShardStatus(phase="Retrying", message=detail[:256] or None, **base), True


def _aggregate(
    step: Step, prev: StepStatus | None, shards: list[ShardStatus], now: datetime
) -> StepStatus:
    phase: StepPhase
    reason = message = None
    if all(s.phase == "Succeeded" for s in shards):
        phase = "Succeeded"
    elif all(is_step_terminal(s.phase) for s in shards):
        phase = "Failed"
        first = next(s for s in shards if s.phase == "Failed")
        reason = REASON_SHARD_FAILED
        message = f"shard {first.index} failed: {first.message or 'Failed'}"
    else:
        phase = "Running"
    done = phase != "Running"
    return StepStatus(
        name=step.name,
        phase=phase,
        reason=reason,
        message=message[:256] if message else None,
        start_time=prev.start_time if prev is not None and prev.start_time else now,
        completion_time=(prev.completion_time if prev and prev.completion_time else now)
        if done
        else None,
        retry_count=sum(s.retry_count or 0 for s in shards) or None,
        shards=shards,
    )
