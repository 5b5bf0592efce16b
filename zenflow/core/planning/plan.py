"""The reconcile decision: ``plan(flow, observed, now) -> Plan``, a pure function.

Given the flow (spec + previous status), the Jobs and peers observed in the caches, and the time,
it returns everything the reconciler must do — Jobs to create and delete, resource templates to
ensure (full manifests, namespace and owner reference included), the new status, Events, when
to be called again, whether to delete the flow (TTL). It never performs I/O, so every semantic
rule is unit-tested here, and a controller restarted at any instant re-derives the same
decisions from (flow, status, Jobs).

Order of decisions for an unfinished flow: cancel annotation, Replace by a newer flow, flow
deadline, resource conflict (each ends the flow at once: running Jobs deleted, flow Failed);
Forbid/Replace queueing; then steps in topological order (regular steps, then ``finally`` once
every regular step is terminal), and the flow's phase from its steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from zenflow.api.constants import ANNOTATION_CANCEL, ANNOTATION_RETRY, ANNOTATION_RETRY_STEP
from zenflow.api.formats import clip, parse_time
from zenflow.api.jobflow import JobFlow
from zenflow.api.reasons import (
    REASON_CANCELLED,
    REASON_DEADLINE_EXCEEDED,
    REASON_QUEUED,
    REASON_REPLACED,
    REASON_RESOURCE_CONFLICT,
)
from zenflow.api.status import FLOW_TERMINAL_PHASES, JobFlowStatus, StepStatus, is_step_terminal
from zenflow.core.observed import Observed
from zenflow.core.planning.concurrency import decide_concurrency
from zenflow.core.planning.deadlines import check_flow_deadline, decide_ttl
from zenflow.core.planning.finished import requested_retry
from zenflow.core.planning.flowstatus import (
    EventSpec,
    build_conditions,
    fill_counts,
    flow_events,
    step_events,
)
from zenflow.core.planning.jobspec import JobCreate, label_value, owner_reference
from zenflow.core.planning.jobwaits import CREATE_WAIT_REASONS
from zenflow.core.planning.rerun import reset_for_retry, steps_to_rerun
from zenflow.core.planning.steps import StepPlanner
from zenflow.core.planning.workspaces import claim_manifests

__all__ = ["JobCreate", "Plan", "plan"]


@dataclass
class Plan:
    """What one reconcile does. The reconciler applies it in this order: ensure ``resources``,
    create ``creates`` and delete ``deletes`` (concurrently), set ``annotations``, patch
    ``status`` if it changed, record ``events``, delete the flow if ``delete_flow``; then
    requeue after ``requeue_after`` seconds if set. A conflict found while applying (a name
    held by an object the flow does not own, a Job the API server rejects) invalidates the
    plan: its status and Events are dropped and the next ``plan`` sees the conflict
    (``Observed.resource_conflict``, ``Observed.create_conflicts``)."""

    status: JobFlowStatus
    creates: list[JobCreate] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)
    events: list[EventSpec] = field(default_factory=list)
    requeue_after: float | None = None
    delete_flow: bool = False
    annotations: dict[str, str | None] | None = None
    """Annotations to set (None: remove) on the flow before the status patch: a retry of a
    cancelled flow clears the cancel annotation."""


def plan(flow: JobFlow, observed: Observed, now: datetime) -> Plan:
    """Decide what to do with ``flow`` now."""
    prev = flow.status or JobFlowStatus()
    annotations = flow.metadata.get("annotations") or {}
    if prev.phase in FLOW_TERMINAL_PHASES:
        nonce = requested_retry(annotations, prev.retry_nonce)
        if nonce is not None:
            return _user_retry(flow, prev, observed, now, nonce)
        return _finished(flow, prev, now)
    started = prev.start_time is not None or any(observed.jobs.values())
    decision = decide_concurrency(
        name=flow.name,
        created=parse_time(flow.metadata.get("creationTimestamp")) or now,
        policy=flow.spec.execution_policy.concurrency_policy,
        started=started,
        peers=observed.peers,
    )
    cancel = annotations.get(ANNOTATION_CANCEL)
    if cancel is not None and cancel.lower() not in ("", "false"):
        return _stop(flow, prev, observed, now, REASON_CANCELLED, "cancelled by the user")
    if decision.replaced_by is not None:
        message = f"replaced by JobFlow {decision.replaced_by} (concurrencyPolicy Replace)"
        return _stop(flow, prev, observed, now, REASON_REPLACED, message)
    deadline = check_flow_deadline(
        start_time=prev.start_time or now,
        active_deadline_seconds=flow.spec.execution_policy.active_deadline_seconds,
        now=now,
    )
    if deadline.exceeded:
        seconds = flow.spec.execution_policy.active_deadline_seconds
        message = f"the flow ran longer than activeDeadlineSeconds ({seconds}s)"
        return _stop(flow, prev, observed, now, REASON_DEADLINE_EXCEEDED, message)
    if observed.resource_conflict is not None:
        return _stop(
            flow, prev, observed, now, REASON_RESOURCE_CONFLICT, observed.resource_conflict
        )
    if decision.queued_behind is not None:
        return _queued(flow, prev, now, decision.queued_behind)

    steps = StepPlanner(flow=flow, observed=observed, previous=prev, now=now)
    steps.run()
    status = JobFlowStatus(
        start_time=prev.start_time or now,
        observed_generation=flow.generation,
        steps=steps.ordered_statuses(),
    )
    _set_phase(flow, status, steps, now)
    result = _finish_plan(flow, prev, status, now, queued=None)
    result.events[:0] = steps.events
    result.creates = steps.creates
    result.resources = _resources(flow) if not prev.start_time and not started else []
    waits = [w for w in (steps.requeue_after, deadline.remaining) if w is not None]
    if status.phase not in FLOW_TERMINAL_PHASES:
        result.requeue_after = min(waits) if waits else None
    return result


def _set_phase(flow: JobFlow, status: JobFlowStatus, steps: StepPlanner, now: datetime) -> None:
    if steps.all_terminal():
        failed = steps.failed_steps()
        status.completion_time = now
        if failed:
            first = failed[0]
            detail = ": ".join(x for x in (first.reason, first.message) if x)
            status.phase = "Failed"
            status.reason = "StepFailed"
            status.message = clip(f'step "{first.name}" failed: {detail}')
        else:
            status.phase = "Succeeded"
            status.message = "all steps finished"
    elif flow.spec.suspend:
        status.phase = "Suspended"
        status.reason = "Suspended"
        status.message = "spec.suspend is true: no new steps start"
    else:
        status.phase = "Running"
        failing = steps.failed_steps()
        if failing:
            status.message = clip(
                f'step "{failing[0].name}" failed; waiting for running steps to finish'
            )
        else:
            status.message = activity(status.steps or [])


def activity(steps: list[StepStatus]) -> str | None:
    """What a running flow is doing, for ``kubectl get`` (the Message column)."""
    parts = []
    for phase, label in (("Running", "running"), ("Retrying", "retrying"), ("Waiting", "waiting")):
        names = [s.name for s in steps if s.phase == phase]
        if names:
            more = f" (+{len(names) - 3} more)" if len(names) > 3 else ""
            parts.append(f"{label}: {', '.join(names[:3])}{more}")
    held = [s for s in steps if s.phase == "Pending" and s.reason in CREATE_WAIT_REASONS]
    if held:
        more = f" (+{len(held) - 1} more)" if len(held) > 1 else ""
        parts.append(f"held: {held[0].name}{more}: {held[0].message}")
    return clip("; ".join(parts)) if parts else None


def _finish_plan(
    flow: JobFlow, prev: JobFlowStatus, status: JobFlowStatus, now: datetime, *, queued: str | None
) -> Plan:
    """Counts, conditions and Events for a status whose phase and steps are decided."""
    fill_counts(status)
    # Delivery records are the notifier's (zenflow.core.notifications); a reconcile keeps them.
    status.notifications = prev.notifications
    # A retry nonce that arrives while the flow runs is recorded, so it never fires later.
    status.retry_nonce = (flow.metadata.get("annotations") or {}).get(ANNOTATION_RETRY) or None
    status.conditions = build_conditions(
        status=status,
        previous=prev.conditions,
        queued_message=queued,
        suspended=flow.spec.suspend and status.phase not in FLOW_TERMINAL_PHASES,
        generation=flow.generation,
        now=now,
    )
    previous_steps = {s.name: s for s in prev.steps or []}
    events = step_events(previous=previous_steps, current=status.steps or [])
    events += flow_events(previous=flow.status, current=status)
    result = Plan(status=status, events=events)
    if status.phase in FLOW_TERMINAL_PHASES:
        ttl = decide_ttl(
            completion_time=status.completion_time,
            ttl_seconds=flow.spec.execution_policy.ttl_seconds_after_finished,
            now=now,
        )
        result.delete_flow = ttl.delete
        result.requeue_after = ttl.requeue_after
    return result


def _user_retry(
    flow: JobFlow, prev: JobFlowStatus, observed: Observed, now: datetime, nonce: str
) -> Plan:
    """Restart a finished flow for a new retry nonce, then plan it as a running flow."""
    annotations = flow.metadata.get("annotations") or {}
    step = annotations.get(ANNOTATION_RETRY_STEP) or None
    rerun = steps_to_rerun(flow=flow, status=prev, step=step)
    if not rerun:
        # Nothing to re-run (an unknown step, or a whole-flow retry of a flow that succeeded):
        # remember the nonce so it is not looked at again.
        return Plan(status=prev.model_copy(update={"retry_nonce": nonce}))
    reset = reset_for_retry(
        flow=flow, status=prev, rerun=rerun, jobs=observed.jobs, nonce=nonce, now=now
    )
    metadata = dict(flow.metadata)
    if ANNOTATION_CANCEL in annotations:
        # The retry supersedes an earlier cancel; the reconciler removes the annotation.
        metadata["annotations"] = {k: v for k, v in annotations.items() if k != ANNOTATION_CANCEL}
    result = plan(flow.model_copy(update={"status": reset, "metadata": metadata}), observed, now)
    what = f'step "{step}" and its dependents' if step else "failed and skipped steps"
    result.events.insert(0, EventSpec("Normal", "FlowRetried", f"retrying {what}"))
    if ANNOTATION_CANCEL in annotations:
        result.annotations = {ANNOTATION_CANCEL: None}
    return result


def _finished(flow: JobFlow, prev: JobFlowStatus, now: datetime) -> Plan:
    """A finished flow changes no more; only its TTL matters."""
    ttl = decide_ttl(
        completion_time=prev.completion_time,
        ttl_seconds=flow.spec.execution_policy.ttl_seconds_after_finished,
        now=now,
    )
    return Plan(status=prev, delete_flow=ttl.delete, requeue_after=ttl.requeue_after)


def stop(flow: JobFlow, observed: Observed, now: datetime, *, reason: str, message: str) -> Plan:
    """End the flow now, whatever its state: running Jobs deleted, unfinished steps Failed (if
    running) or Skipped, the flow Failed with ``reason`` (e.g. its status was refused)."""
    return _stop(flow, flow.status or JobFlowStatus(), observed, now, reason, message)


def _stop(
    flow: JobFlow,
    prev: JobFlowStatus,
    observed: Observed,
    now: datetime,
    reason: str,
    message: str,
) -> Plan:
    """End the flow now: running Jobs are deleted, unfinished steps end Failed (if running) or
    Skipped (if not started), the flow is Failed with ``reason``."""
    steps = StepPlanner(flow=flow, observed=observed, previous=prev, now=now, frozen=True)
    steps.run()
    deletes: list[str] = []
    out: list[StepStatus] = []
    # A step whose Jobs run although no status said so yet (a matrix step whose first status
    # write was refused) ran: it ends Failed, not Skipped.
    running = {s for s, jobs in observed.jobs.items() if any(j.phase == "Running" for j in jobs)}
    for st in steps.ordered_statuses():
        if st.phase in ("Running", "Retrying") or (
            st.name in running and not is_step_terminal(st.phase)
        ):
            if st.phase == "Running" and st.job_ref:
                deletes.append(st.job_ref)
            st = st.model_copy(
                update={
                    "phase": "Failed",
                    "reason": reason,
                    "message": clip(
                        f"Job {st.job_ref} terminated: {message}"
                        if st.job_ref
                        else f"its Jobs terminated: {message}"
                    ),
                    "completion_time": now,
                    "next_retry_time": None,
                }
            )
        elif not is_step_terminal(st.phase):
            st = st.model_copy(
                update={
                    "phase": "Skipped",
                    "reason": reason,
                    "message": clip(f"not run: {message}"),
                    "completion_time": now,
                    "next_retry_time": None,
                }
            )
        out.append(st)
    deletes += [
        j.name
        for jobs in observed.jobs.values()
        for j in jobs
        if j.owned and j.phase == "Running" and not j.deleting and j.name not in deletes
    ]
    status = JobFlowStatus(
        phase="Failed",
        reason=reason,
        message=clip(message),
        start_time=prev.start_time,
        completion_time=now,
        observed_generation=flow.generation,
        steps=out,
    )
    result = _finish_plan(flow, prev, status, now, queued=None)
    result.events[:0] = steps.events
    result.deletes = deletes
    return result


def _queued(flow: JobFlow, prev: JobFlowStatus, now: datetime, behind: str) -> Plan:
    policy = flow.spec.execution_policy.concurrency_policy
    message = f"queued behind JobFlow {behind} (concurrencyPolicy {policy})"
    steps = [StepStatus(name=s.name, phase="Pending") for s in flow.spec.all_steps()]
    status = JobFlowStatus(
        phase="Pending",
        reason=REASON_QUEUED,
        message=message,
        observed_generation=flow.generation,
        steps=steps,
    )
    return _finish_plan(flow, prev, status, now, queued=message)


def _resources(flow: JobFlow) -> list[dict[str, Any]]:
    """The resource templates to ensure before the first step (PVCs, then ConfigMaps), as full
    manifests: in the flow's namespace, controlled by the flow (deleting it cascades); then the
    claims of the flow's workspaces (``workspaces.claim_manifests``)."""
    claims = claim_manifests(flow, owner=owner_reference(flow), label_value=label_value(flow.name))
    templates = flow.spec.resource_templates
    if templates is None:
        return claims
    out = []
    for kind, items in (
        ("PersistentVolumeClaim", templates.volume_claim_templates),
        ("ConfigMap", templates.config_map_templates),
    ):
        for item in items:
            meta = {
                **(item.get("metadata") or {}),
                "namespace": flow.namespace,
                "ownerReferences": [owner_reference(flow)],
            }
            out.append({**item, "apiVersion": "v1", "kind": kind, "metadata": meta})
    return out + claims
