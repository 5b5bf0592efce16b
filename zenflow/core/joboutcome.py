"""When a step's Job has an outcome, and from which signal: the earliest one that can never
disagree with the Job's final condition (docs/CONTROLLER.md, "Early hand-off").

The Job controller writes ``Complete``/``Failed`` only after batching pod updates (about a second
after the last pod ended), so waiting for them costs every step of a chain a second. Signals, in
the order they are trusted:

1. ``Complete`` or ``Failed`` (status True): the final outcome.
2. The interim conditions (Kubernetes >= 1.31): ``SuccessCriteriaMet`` and ``FailureTarget``.
   Once the Job controller adds one it never evaluates the other way again (its sync returns the
   existing one before checking failures or deadlines); it only waits for the remaining pods to
   terminate, then adds ``Complete``, or ``Failed`` with the ``FailureTarget``'s reason and
   message. The API server refuses to remove either and refuses ``Complete``/``Failed``
   without them, for any ``managedBy``. So ``SuccessCriteriaMet`` is Succeeded and
   ``FailureTarget`` is Failed with the reason and message the final condition will carry.
3. The pod (``PodSuccess``), for a Job whose success needs exactly one pod and nothing else can
   fail it: ``completions: 1``, no ``successPolicy``, no ``activeDeadlineSeconds`` (the Job
   controller checks the deadline *before* counting successes, so a pod that succeeds just
   before the deadline may still end in ``DeadlineExceeded``), not suspended, not being
   deleted, managed by the built-in Job controller. Such a Job never runs two pods at once
   (it wants ``min(parallelism, completions - succeeded)`` = 1 active pod), and it creates a
   replacement only after it counted the previous pod's failure (a deleted pod counts as
   failed when it is deleted; with a ``podFailurePolicy`` the replacement waits for the pod to
   fail, and ``FailJob`` rules are evaluated then). So when a pod it controls is seen
   ``Succeeded`` and was never deleted (``deletionTimestamp`` cannot be unset: the Job
   controller never saw it terminating, which it would count as a failure), every failure the
   Job will ever count is already counted below ``backoffLimit``, no deadline can strike, and
   the Job controller counts that pod as the one completion: the Job ends ``Complete``.

Only successes are taken from pods: a failed pod may be retried by the Job (``backoffLimit``,
``podFailurePolicy`` Ignore/Count), so failures wait for ``FailureTarget`` or ``Failed``.
Anything else is Running. ``finished`` is the interim condition's time when there is one (so it
does not move when the final condition arrives), else the final one's, else the pod's end (or,
for a pod read as metadata only, the moment its success was first seen).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from zenflow.api.formats import parse_time

JobPhase = Literal["Running", "Succeeded", "Failed"]
Signal = Literal["final", "interim", "pod", "none"]

JOB_CONTROLLER: Final = "kubernetes.io/job-controller"
"""``spec.managedBy`` of Jobs the built-in Job controller manages (also when unset)."""


@dataclass(frozen=True, slots=True)
class PodSuccess:
    """A pod the Job controls (controller ownerReference: the Job's uid), seen ``Succeeded``
    with no ``deletionTimestamp``; ``finished``: when its last container ended, or, when only
    the pod's metadata was read, when the success was first seen (``pod_success``)."""

    finished: datetime | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    phase: JobPhase
    signal: Signal
    reason: str | None = None
    message: str | None = None
    finished: datetime | None = None

    @property
    def final(self) -> bool:
        """The Job's own final condition says so."""
        return self.signal == "final"


RUNNING: Final = Outcome("Running", "none")


def job_outcome(job: Mapping[str, Any], pod: PodSuccess | None = None) -> Outcome:
    """The outcome of a raw batch/v1 Job (``pod``: a success seen among its pods, if any)."""
    status = job.get("status") or {}
    true = {
        c.get("type"): c
        for c in status.get("conditions") or []
        if isinstance(c, Mapping) and c.get("status") == "True"
    }
    completed = parse_time(status.get("completionTime"))
    if (met := true.get("SuccessCriteriaMet")) is not None or "Complete" in true:
        early = parse_time(met.get("lastTransitionTime")) if met is not None else None
        final = "Complete" in true
        late = completed or parse_time(true.get("Complete", {}).get("lastTransitionTime"))
        return Outcome("Succeeded", "final" if final else "interim", finished=early or late)
    if (target := true.get("FailureTarget")) is not None or "Failed" in true:
        failed = true.get("Failed")
        cond = failed if failed is not None else target
        assert cond is not None
        at = parse_time((target or cond).get("lastTransitionTime")) or parse_time(
            cond.get("lastTransitionTime")
        )
        return Outcome(
            "Failed",
            "final" if failed is not None else "interim",
            reason=cond.get("reason") or "Failed",
            message=cond.get("message"),
            finished=at,
        )
    if pod is not None and pod_decides(job):
        return Outcome("Succeeded", "pod", finished=pod.finished)
    return RUNNING


def decision_kept(
    old: Mapping[str, Any], new: Mapping[str, Any], pod: PodSuccess | None = None
) -> bool:
    """Whether ``new``, a later version of the Job ``old`` (``pod``: its pod's success, if
    seen), changes no outcome a plan reads: ``old`` was decided already, and ``new`` is decided
    the same way (phase, reason, message) by a signal that is not the first final one after a
    success (a step whose outputs are read from its Job waits for that). E.g. the interim
    condition after the pod's success, or ``Failed`` after ``FailureTarget``: the step's time
    is the first signal's either way (``planning.derive``)."""
    before, after = job_outcome(old, pod), job_outcome(new, pod)
    return (
        before.phase != "Running"
        and (before.phase, before.reason, before.message)
        == (after.phase, after.reason, after.message)
        and (before.final or not after.final or after.phase == "Failed")
    )


def recorded(flow_status: Mapping[str, Any] | None, job: str, phase: JobPhase) -> bool:
    """Whether a flow's raw status already records the step whose current Job is ``job`` as
    ended in ``phase`` (Succeeded or Failed): a later version of that Job decided the same way
    changes no plan then (the step keeps its time and outputs; a step whose outputs are read
    from its Job is recorded Succeeded only once the Job is final). Matrix steps are never
    taken as recorded: a shard shows Succeeded before its Job is final."""
    if phase == "Running" or not isinstance(flow_status, Mapping):
        return False
    return any(
        isinstance(step, Mapping)
        and step.get("jobRef") == job
        and step.get("phase") == phase
        and not step.get("shards")
        for step in flow_status.get("steps") or []
    )


def pod_decides(job: Mapping[str, Any]) -> bool:
    """Whether one succeeded pod decides this Job's success (see the module docstring)."""
    spec = job.get("spec") or {}
    meta = job.get("metadata") or {}
    return (
        spec.get("completions") == 1
        and spec.get("successPolicy") is None
        and spec.get("activeDeadlineSeconds") is None
        and not spec.get("suspend")
        and spec.get("managedBy") in (None, JOB_CONTROLLER)
        and not meta.get("deletionTimestamp")
    )


def pod_success(
    pod: Mapping[str, Any], *, seen: datetime | None = None
) -> tuple[str, PodSuccess] | None:
    """``(uid of the Job controlling the pod, its success)`` for a pod that succeeded and was
    never deleted; None for any other pod.

    ``pod`` is a raw pod, or its metadata alone (``PartialObjectMetadata``, no ``status``) from
    a source that delivers succeeded pods only (a watch with the field selector
    ``status.phase=Succeeded``): a pod without a status is taken as succeeded. ``finished`` is
    the last container's end when the pod tells it, else ``seen`` (when the success was seen)."""
    meta = pod.get("metadata") or {}
    status = pod.get("status")
    if status is not None and (
        not isinstance(status, Mapping) or status.get("phase") != "Succeeded"
    ):
        return None
    if meta.get("deletionTimestamp"):
        return None
    owner = next(
        (
            r
            for r in meta.get("ownerReferences") or []
            if isinstance(r, Mapping) and r.get("controller") is True
        ),
        None,
    )
    if owner is None or owner.get("kind") != "Job" or not owner.get("uid"):
        return None
    ends = [
        parse_time(((c.get("state") or {}).get("terminated") or {}).get("finishedAt"))
        for c in (status or {}).get("containerStatuses") or []
        if isinstance(c, Mapping)
    ]
    known = [t for t in ends if t is not None]
    return str(owner["uid"]), PodSuccess(max(known) if known else seen)
