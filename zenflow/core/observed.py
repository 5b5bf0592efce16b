"""What the planner observes besides the flow itself: the flow's Jobs (as small records parsed
from the informer cache), outputs read from finished pods, and the flows sharing its
concurrency group.

Everything here is plain data parsed from raw API dicts; no I/O. A ``JobRecord`` is the only
view of a Job the planner gets, so it holds exactly what step state is derived from; its phase
comes from the earliest signal that decides the Job's outcome (``joboutcome``: the final
condition, an interim one, or the success of the one pod the Job needs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final

from zenflow.api.constants import GROUP, LABEL_ATTEMPT, LABEL_STEP
from zenflow.api.formats import parse_time
from zenflow.core.joboutcome import JobPhase, PodSuccess, job_outcome

__all__ = [
    "ANNOTATION_RETRY_COUNT",
    "LABEL_SHARD",
    "JobPhase",
    "JobRecord",
    "Observed",
    "PeerFlow",
    "PodSuccess",
    "job_record",
]

ANNOTATION_RETRY_COUNT: Final = f"{GROUP}/retry-count"
"""On each step Job: the step's retryCount when that attempt was created (0 for the first)."""
LABEL_SHARD: Final = f"{GROUP}/shard"


@dataclass(frozen=True, slots=True)
class JobRecord:
    """One Job of a flow, as far as step state is concerned."""

    name: str
    step: str
    attempt: int
    phase: JobPhase
    owned: bool
    """True when the Job's controller ownerReference is this flow's uid."""
    retry_count: int = 0
    reason: str | None = None
    message: str | None = None
    created: datetime | None = None
    finished: datetime | None = None
    deleting: bool = False
    shard: int | None = None
    final: bool = True
    """The phase is the Job's final condition's (False: decided early, by an interim condition
    or its pod; the final condition will agree)."""


@dataclass(frozen=True, slots=True)
class PeerFlow:
    """Another JobFlow of the same concurrency group (same namespace)."""

    name: str
    created: datetime
    policy: str
    """Its executionPolicy.concurrencyPolicy."""
    finished: bool
    started: bool


@dataclass(frozen=True)
class Observed:
    """Everything the planner sees besides the flow: Jobs by step, freshly read outputs, peers.

    ``outputs`` holds outputs read in this reconcile for steps whose Job succeeded and whose
    status has none yet; ``output_errors`` why reading failed. ``resource_conflict`` is set when
    a resource template's name is held by an object the flow does not own."""

    jobs: Mapping[str, Sequence[JobRecord]] = field(default_factory=dict)
    outputs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    output_errors: Mapping[str, str] = field(default_factory=dict)
    peers: Sequence[PeerFlow] = ()
    resource_conflict: str | None = None
    create_conflicts: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Step → (reason, message) for Job creates refused for good: the name is held by a Job
    this flow does not own (JobConflict), or the API server rejected the Job (JobRejected)."""
    create_waits: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Job name → (reason, message) for Job creates refused for now (QuotaExceeded, Throttled,
    JobCreateFailed): the step waits and tries again; its status never claims the Job."""
    artifacts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Step → its output artifacts' report (``planning.artifacts.split_report``), read with the
    outputs of a succeeded producer."""

    vanished: frozenset[str] = frozenset()
    """Jobs the status counts on that the API server confirmed gone (404 on a GET after the
    cache did not show them): the attempt failed with JobDeleted. A Job merely missing from the
    cache (a lagging watch) is never taken for deleted."""

    def waiting(self, waits: Mapping[str, tuple[str, str]]) -> Observed:
        """This observation with ``create_waits`` set."""
        return replace(self, create_waits=waits) if waits else self

    def checked(self, vanished: frozenset[str]) -> Observed:
        """This observation with the Jobs confirmed gone."""
        return replace(self, vanished=vanished) if vanished else self


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def job_record(
    job: Mapping[str, Any], *, flow_uid: str, pod: PodSuccess | None = None
) -> JobRecord | None:
    """The record of a raw batch/v1 Job dict (``pod``: a success seen among the pods it
    controls); None when it carries no step label."""
    meta = job.get("metadata") or {}
    labels = meta.get("labels") or {}
    step = labels.get(LABEL_STEP)
    if not isinstance(step, str) or not step:
        return None
    annotations = meta.get("annotations") or {}
    shard_label = labels.get(LABEL_SHARD)
    owned = any(
        isinstance(ref, Mapping) and ref.get("uid") == flow_uid and ref.get("controller") is True
        for ref in meta.get("ownerReferences") or []
    )
    outcome = job_outcome(job, pod)
    return JobRecord(
        name=str(meta.get("name", "")),
        step=step,
        attempt=_int(labels.get(LABEL_ATTEMPT), 1),
        phase=outcome.phase,
        owned=owned,
        retry_count=_int(annotations.get(ANNOTATION_RETRY_COUNT), 0),
        reason=outcome.reason,
        message=outcome.message,
        created=parse_time(meta.get("creationTimestamp")),
        finished=outcome.finished,
        deleting=bool(meta.get("deletionTimestamp")),
        shard=_int(shard_label, 0) if shard_label is not None else None,
        final=outcome.final,
    )
