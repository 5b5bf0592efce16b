"""Glue between the step planner and matrix shards: expand the combinations (resolving
``matrix.from`` against upstream outputs), advance the shards, and build each started shard's
Job with ``{{ matrix.KEY }}`` substituted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from zenflow.api.jobflow import JobFlow, Step
from zenflow.api.status import StepStatus
from zenflow.core.jobspec import JobCreate, build_job, template_context
from zenflow.core.matrix import MatrixError, expand_matrix
from zenflow.core.matrixplan import MatrixGates, advance_matrix
from zenflow.core.observed import JobRecord
from zenflow.core.statusboard import StatusBoard
from zenflow.core.templating import TemplateError, render_string

REASON_MATRIX_ERROR = "MatrixError"


@dataclass
class MatrixOutcome:
    status: StepStatus
    creates: list[JobCreate] = field(default_factory=list)
    requeue_after: float | None = None


def plan_matrix_step(
    *,
    flow: JobFlow,
    step: Step,
    prev: StepStatus | None,
    statuses: StatusBoard,
    jobs: Sequence[JobRecord],
    gates: MatrixGates,
    now: datetime,
) -> MatrixOutcome:
    """One reconcile of a matrix step that may run (dependencies allow it)."""
    assert step.matrix is not None
    outputs = statuses.outputs
    phases = statuses.phases
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
            shard.message = str(exc)[:256]
            continue
        shard.job_ref = manifest["metadata"]["name"]
        creates.append(JobCreate(step=step.name, attempt=start.attempt, manifest=manifest))
    return MatrixOutcome(progress.status, creates, progress.requeue_after)
