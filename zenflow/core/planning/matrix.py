"""Matrix steps: one step fanned out into one Job per value combination (shard).

Expansion (``expand_matrix``): keys of ``values`` in declaration order, then keys of ``from``
(resolved from upstream outputs held in the status, so the expansion is the same at every
reconcile); the cross product with the last key varying fastest, like nested loops. That order
fixes each shard's index, and so its Job name ``job_name(flow, step, attempt, shard=i)``
(labelled ``workflow.zen.io/shard=i``). Values are strings: literal integers as decimal text;
elements of a list taken from an upstream output are strings as they are and other JSON values
as compact JSON.

Progress (``advance_matrix``): each shard has its own attempts and retries. The step is Running
while any shard is unfinished; Succeeded when every shard succeeded (an empty expansion succeeds
at once); Failed once every shard is terminal and some failed. With ``matrix.failFast``
(default) no further shard starts after one failed (they end Skipped); ``maxParallel`` caps the
step's running shards, and each shard also takes a slot of the flow's ``parallelism``. A shard
whose Job vanished while it ran is a failed attempt (JobDeleted, the retry policy applies); one
that succeeded stays so; a shard whose create was refused for now waits (Pending) and is tried
again. The status stays compact: a shard is a bare ``{index, phase, jobRef, attempt}`` and only
Failed and Retrying shards carry a message (at most ``MAX_SHARD_MESSAGE`` characters).

``plan_matrix_step`` glues both for the step planner: expand, advance, and build each started
shard's Job with ``{{ matrix.KEY }}`` substituted.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from math import prod
from typing import Any

from zenflow.api.jobflow import JobFlow, Step
from zenflow.api.limits import MAX_MATRIX_SHARDS, MAX_SHARD_MESSAGE
from zenflow.api.reasons import REASON_JOB_DELETED, REASON_MATRIX_ERROR, REASON_SHARD_FAILED
from zenflow.api.status import ShardStatus, StepPhase, StepStatus, is_step_terminal
from zenflow.api.step import Matrix
from zenflow.core.observed import JobRecord
from zenflow.core.planning.flowstatus import EventSpec
from zenflow.core.planning.jobspec import JobCreate, build_job, template_context
from zenflow.core.planning.jobwaits import create_retry_delay, job_deleted_event
from zenflow.core.planning.retry import decide_retry
from zenflow.core.templating import TemplateError, render_string


class MatrixError(ValueError):
    """A matrix source is missing or not a JSON list, or the expansion is too large."""


def expand_matrix(
    matrix: Matrix, *, sources: Mapping[str, str] | None = None
) -> list[dict[str, str]]:
    """Every combination, in shard-index order. ``sources`` maps each ``from`` key to the
    resolved output text (a JSON list), e.g. ``{"partition": '["p1","p2"]'}``."""
    axes: list[tuple[str, list[str]]] = [
        (key, [str(v) for v in values]) for key, values in (matrix.values or {}).items()
    ]
    for key in matrix.from_ or {}:
        text = (sources or {}).get(key)
        if text is None:
            raise MatrixError(f"matrix.from.{key}: no value resolved")
        axes.append((key, _json_list(key, text)))
    total = prod(len(values) for _, values in axes) if axes else 0
    if total > MAX_MATRIX_SHARDS:
        raise MatrixError(f"matrix expands to {total} Jobs; at most {MAX_MATRIX_SHARDS} allowed")
    keys = [key for key, _ in axes]
    return [
        dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(v for _, v in axes))
    ]


def _json_list(key: str, text: str) -> list[str]:
    try:
        items = json.loads(text)
    except ValueError as exc:
        raise MatrixError(f"matrix.from.{key}: the output is not JSON: {text[:80]!r}") from exc
    if not isinstance(items, list):
        raise MatrixError(f"matrix.from.{key}: the output is not a JSON list: {text[:80]!r}")
    return [
        item if isinstance(item, str) else json.dumps(item, separators=(",", ":")) for item in items
    ]


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
    deleted: list[tuple[int, str, int]] = field(default_factory=list)
    """(shard, Job, attempt) of shard Jobs that vanished while they ran."""


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
    vanished: Collection[str] = frozenset(),
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
        prev_shard = previous.get(index)
        if _vanished(prev_shard, latest, vanished):
            assert prev_shard is not None
            shard, is_due = _vanished_shard(prev_shard, step, gates, now, waits)
            if prev_shard.phase == "Running":
                progress.deleted.append((index, prev_shard.job_ref or "", prev_shard.attempt or 1))
        else:
            shard, is_due = _shard(index, latest, prev_shard, step, gates, now, waits)
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
        elif shard.phase == "Pending":
            if failed and step.matrix.fail_fast:
                # The step's message says why; 256 shards need not repeat it.
                shards[i] = ShardStatus(index=i, phase="Skipped")
            elif gates.may_start and (cap is None or running < cap) and gates.slot():
                attempt = shard.attempt or first_attempt
                progress.starts.append(ShardStart(i, attempt, shard.retry_count or 0))
                shards[i] = ShardStatus(
                    index=i, phase="Running", attempt=attempt, retry_count=shard.retry_count
                )
                running += 1
    if waits:
        progress.requeue_after = min(waits)
    progress.status = _aggregate(step, prev, shards, now)
    return progress


def _vanished(
    prev: ShardStatus | None, latest: JobRecord | None, vanished: Collection[str]
) -> bool:
    """The attempt the shard's status records has no Job any more (confirmed gone)."""
    return (
        prev is not None
        and prev.phase in ("Running", "Retrying")
        and prev.attempt is not None
        and (latest is None or latest.attempt < prev.attempt)
        and prev.job_ref in vanished
    )


def _vanished_shard(
    prev: ShardStatus, step: Step, gates: MatrixGates, now: datetime, waits: list[float]
) -> tuple[ShardStatus, bool]:
    """A Running shard whose Job is gone failed (JobDeleted); a Retrying one whose failed Job
    is gone retries now."""
    base: dict[str, Any] = {
        "index": prev.index,
        "job_ref": prev.job_ref,
        "attempt": prev.attempt,
        "retry_count": prev.retry_count,
    }
    if prev.phase == "Retrying":
        gates.use_retry()
        return ShardStatus(phase="Retrying", message=prev.message, **base), True
    message = _clip(f"{REASON_JOB_DELETED}: Job {prev.job_ref} was deleted while the shard ran")
    used, limit = gates.retry_budget()
    decision = decide_retry(
        step=step,
        retry_count=prev.retry_count or 0,
        failed_at=now,
        flow_retries=used,
        backoff_limit=limit,
    )
    if not decision.retry:
        return ShardStatus(phase="Failed", message=message, **base), False
    gates.use_retry()
    assert decision.at is not None
    if decision.at > now:
        waits.append((decision.at - now).total_seconds())
        return ShardStatus(phase="Retrying", message=message, **base), False
    return ShardStatus(phase="Retrying", message=message, **base), True


def _clip(text: str) -> str:
    return text[:MAX_SHARD_MESSAGE]


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
        if prev is not None and prev.phase in ("Skipped", "Failed", "Succeeded"):
            return prev, False  # a finished shard stays finished, its Job or not
        if prev is not None and prev.phase == "Pending":
            return prev, False  # keeps the attempt (and retries) a refused create waits with
        if prev is not None and prev.phase in ("Running", "Retrying"):
            return prev, False  # its Job is not confirmed gone: it is taken to run on
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
    detail = _clip(": ".join(x for x in (latest.reason, latest.message) if x)) or None
    if not decision.retry:
        return ShardStatus(phase="Failed", message=detail, **base), False
    gates.use_retry()
    assert decision.at is not None
    if decision.at > now:
        waits.append((decision.at - now).total_seconds())
        return ShardStatus(phase="Retrying", message=detail, **base), False
    return ShardStatus(phase="Retrying", message=detail, **base), True


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


@dataclass
class MatrixOutcome:
    status: StepStatus
    creates: list[JobCreate] = field(default_factory=list)
    requeue_after: float | None = None
    events: list[EventSpec] = field(default_factory=list)


def plan_matrix_step(
    *,
    flow: JobFlow,
    step: Step,
    prev: StepStatus | None,
    outputs: Mapping[str, Mapping[str, str]],
    phases: Mapping[str, str],
    jobs: Sequence[JobRecord],
    gates: MatrixGates,
    now: datetime,
    create_waits: Mapping[str, tuple[str, str]] | None = None,
    vanished: Collection[str] = frozenset(),
) -> MatrixOutcome:
    """One reconcile of a matrix step that may run (dependencies allow it). ``create_waits``:
    Job name → (reason, message) of creates the API server refused for now."""
    create_waits = create_waits or {}
    assert step.matrix is not None
    floor = prev.attempt if prev is not None and prev.phase == "Pending" and prev.attempt else 1
    started = prev is not None and prev.shards is not None
    try:
        base = template_context(flow=flow, step=step, attempt=floor, outputs=outputs, phases=phases)
        sources = {
            key: render_string(text, base.resolve)
            for key, text in (step.matrix.from_ or {}).items()
        }
        combos = expand_matrix(step.matrix, sources=sources)
    except (MatrixError, TemplateError) as exc:
        return MatrixOutcome(
            StepStatus(
                name=step.name,
                phase="Failed",
                reason=REASON_MATRIX_ERROR,
                message=str(exc)[:256],
                completion_time=now,
            )
        )
    progress = advance_matrix(
        step=step,
        prev=prev if started else None,
        combos=combos,
        jobs=[j for j in jobs if j.attempt >= floor],
        gates=gates,
        now=now,
        first_attempt=floor,
        vanished=vanished,
    )
    creates: list[JobCreate] = []
    shards = {s.index: s for s in progress.status.shards or []}
    for start in progress.starts:
        context = template_context(
            flow=flow,
            step=step,
            attempt=start.attempt,
            outputs=outputs,
            phases=phases,
            matrix=combos[start.index],
        )
        shard = shards[start.index]
        try:
            manifest = build_job(
                flow=flow,
                step=step,
                attempt=start.attempt,
                retry_count=start.retry_count,
                context=context,
                shard=start.index,
            )
        except TemplateError as exc:
            shard.phase = "Failed"
            shard.message = _clip(str(exc))
            continue
        name = manifest["metadata"]["name"]
        refused = create_waits.get(name)
        if refused is not None:
            # Not created: the shard waits (keeping its attempt) and is tried again.
            shard.phase = "Pending"
            shard.job_ref = None
            shard.message = _clip(f"Job {name} not created yet: {refused[1]}")
            since = progress.status.start_time or now
            delay = create_retry_delay(since=since, now=now)
            progress.requeue_after = min(progress.requeue_after or delay, delay)
            continue
        shard.job_ref = name
        creates.append(JobCreate(step=step.name, attempt=start.attempt, manifest=manifest))
    events = [job_deleted_event(f"{step.name}[{i}]", job, n) for i, job, n in progress.deleted]
    return MatrixOutcome(progress.status, creates, progress.requeue_after, events)
