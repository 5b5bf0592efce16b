"""A step's state as its Jobs and its previous status tell it, before any decision.

Jobs are the source of truth for everything they can say (running, succeeded, failed, when,
which attempt, how many retries); the previous status remembers only what no Job records:
skips, approvals, outputs already read, failures that never had a Job, and the attempt floor a
user-requested retry set (a step reset to Pending with ``attempt: N`` ignores Jobs of earlier
attempts and starts attempt N).

A Job that disappears while its step runs (deleted by hand, by a TTL, by anything) is a failed
attempt with reason ``JobDeleted`` — the retry policy decides what follows and the next attempt
has a new name — never a silent re-run under the same name. The status records only attempts
whose Job was created (a refused create leaves the step Pending); a Job it records that the
cache does not show is looked up (``unseen_jobs``), and only one the API server confirms gone
(``Observed.vanished``) is taken for deleted.

A Job's phase may be decided before its final condition (``core.joboutcome``: an interim
condition, or the success of the one pod it needs); the step follows it at once, except a step
with a JSONPath output over its Job, which stays Running until the Job is final. The completion
time first recorded for a Job stays when its final condition arrives.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from zenflow.api.formats import clip
from zenflow.api.jobflow import Step
from zenflow.api.reasons import REASON_JOB_CONFLICT, REASON_JOB_DELETED
from zenflow.api.status import StepStatus, is_step_terminal
from zenflow.core.observed import JobRecord
from zenflow.core.planning.outputs import reads_job

Kind = Literal["new", "running", "succeeded", "failed_attempt", "kept"]


@dataclass(frozen=True, slots=True)
class Derived:
    """``kind``: ``new`` (never started, or reset by a retry), ``running``, ``succeeded``,
    ``failed_attempt`` (the latest attempt failed; retrying is decided later), or ``kept``
    (the previous status is final and no Job contradicts it). ``status`` is the step status
    for every kind but ``new`` (where it is the previous one, if any)."""

    kind: Kind
    status: StepStatus | None
    job: JobRecord | None = None
    attempt: int = 1
    """For ``new``: the attempt to start."""
    deleted: str | None = None
    """The Job that disappeared while the step ran (``failed_attempt`` with reason JobDeleted)."""


def derive(
    *,
    step: Step,
    previous: StepStatus | None,
    jobs: Sequence[JobRecord],
    outputs: Mapping[str, str] | None,
    output_error: str | None,
    create_conflict: tuple[str, str] | None,
    now: datetime,
    vanished: Collection[str] = frozenset(),
) -> Derived:
    """The step's state from its Jobs (this flow's and, by name, foreign ones) and memory."""
    floor = 1
    if previous is not None and previous.phase == "Pending" and previous.attempt:
        floor = previous.attempt
    if create_conflict is not None:
        reason, message = create_conflict
        return Derived("kept", _failed(step, previous, reason, message, now))
    current = [j for j in jobs if j.attempt >= floor]
    foreign = [j for j in current if not j.owned]
    owned = [j for j in current if j.owned]
    latest = max(owned, key=lambda j: j.attempt) if owned else None
    gone = _vanished(previous, latest, now, vanished)
    if gone is not None:
        return gone
    if latest is not None:
        return _from_job(step, previous, latest, outputs, output_error, now)
    if foreign:
        job = max(foreign, key=lambda j: j.attempt)
        message = f"Job {job.name} exists and is not owned by this JobFlow"
        return Derived("kept", _failed(step, previous, REASON_JOB_CONFLICT, message, now))
    if previous is not None and (is_step_terminal(previous.phase) or previous.phase == "Waiting"):
        return Derived("kept", previous)
    attempt = previous.attempt if previous is not None and previous.attempt else 1
    return Derived("new", previous, attempt=attempt)


def unseen_jobs(steps: Sequence[StepStatus], jobs: Mapping[str, Sequence[JobRecord]]) -> list[str]:
    """Jobs the status counts on (a Running or Retrying step's or shard's ``jobRef``) that the
    observed Jobs do not show: to be looked up before anything is concluded from their
    absence."""
    seen = {j.name for records in jobs.values() for j in records}
    claimed = [
        ref
        for st in steps
        for ref in (
            [st.job_ref] if st.phase in ("Running", "Retrying") and st.shards is None else []
        )
        + [s.job_ref for s in st.shards or [] if s.phase in ("Running", "Retrying")]
        if ref
    ]
    return [name for name in dict.fromkeys(claimed) if name not in seen]


def _vanished(
    previous: StepStatus | None,
    latest: JobRecord | None,
    now: datetime,
    vanished: Collection[str],
) -> Derived | None:
    """When the attempt the status records has no Job any more (confirmed gone): a Running
    attempt failed with JobDeleted; a Retrying step keeps its schedule (its failed Job is gone,
    the decision stands). None when the Jobs account for the status."""
    if previous is None or previous.phase not in ("Running", "Retrying") or not previous.attempt:
        return None
    if latest is not None and latest.attempt >= previous.attempt:
        return None
    if previous.job_ref not in vanished:
        return None  # not confirmed gone: the create is re-issued and adopts it
    name = previous.job_ref or ""
    if previous.phase == "Retrying":
        job = JobRecord(
            name=name,
            step=previous.name,
            attempt=previous.attempt,
            phase="Failed",
            owned=True,
            retry_count=previous.retry_count or 0,
            reason=previous.reason,
            message=previous.message,
        )
        return Derived("failed_attempt", previous, job=job, attempt=previous.attempt)
    message = f"Job {name} was deleted while the step ran (attempt {previous.attempt})"
    job = JobRecord(
        name=name,
        step=previous.name,
        attempt=previous.attempt,
        phase="Failed",
        owned=True,
        retry_count=previous.retry_count or 0,
        reason=REASON_JOB_DELETED,
        message=message,
        finished=now,
    )
    status = previous.model_copy(
        update={
            "phase": "Failed",
            "reason": REASON_JOB_DELETED,
            "message": clip(message),
            "completion_time": now,
            "outputs": None,
        }
    )
    return Derived("failed_attempt", status, job=job, attempt=previous.attempt, deleted=name)


def _from_job(
    step: Step,
    previous: StepStatus | None,
    job: JobRecord,
    outputs: Mapping[str, str] | None,
    output_error: str | None,
    now: datetime,
) -> Derived:
    start = previous.start_time if previous is not None and previous.start_time else job.created
    base = StepStatus(
        name=step.name,
        phase="Running",
        start_time=start or now,
        job_ref=job.name,
        attempt=job.attempt,
        retry_count=job.retry_count or None,
    )
    if job.phase == "Running" or (job.phase == "Succeeded" and not job.final and reads_job(step)):
        return Derived("running", base, job=job, attempt=job.attempt)
    if job.phase == "Succeeded":
        base.phase = "Succeeded"
        base.completion_time = _finished_at(previous, job, now)
        kept = (
            previous.outputs
            if previous is not None
            and previous.phase == "Succeeded"
            and previous.job_ref == job.name
            else None
        )
        base.outputs = dict(kept or outputs or {}) or None
        if step.outputs and base.outputs is None and output_error is not None:
            base.message = clip(f"outputs not read: {output_error}")
        return Derived("succeeded", base, job=job, attempt=job.attempt)
    base.phase = "Failed"
    base.reason = job.reason or "Failed"
    base.message = clip(job.message)
    base.completion_time = _finished_at(previous, job, now)
    return Derived("failed_attempt", base, job=job, attempt=job.attempt)


def _finished_at(previous: StepStatus | None, job: JobRecord, now: datetime) -> datetime:
    """When the step's ``job`` ended: as the status already records it for that Job (an early
    signal's time stays when the Job's final condition arrives: no second status write), else
    as the Job tells."""
    if (
        previous is not None
        and previous.phase == job.phase
        and previous.job_ref == job.name
        and previous.completion_time is not None
    ):
        return previous.completion_time
    return job.finished or now


def _failed(
    step: Step, previous: StepStatus | None, reason: str, message: str, now: datetime
) -> StepStatus:
    if previous is not None and previous.phase == "Failed" and previous.reason == reason:
        return previous
    return StepStatus(
        name=step.name,
        phase="Failed",
        reason=reason,
        message=clip(message),
        start_time=previous.start_time if previous is not None else None,
        completion_time=now,
        attempt=previous.attempt if previous is not None else None,
        retry_count=previous.retry_count if previous is not None else None,
    )
