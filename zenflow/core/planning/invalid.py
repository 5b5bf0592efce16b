"""The plan for a flow the validator refuses: the controller records why and does nothing else.

An invalid flow (the shared validator's verdict, as in the webhook and ``zenflow validate``)
ends Failed with reason Invalid and the validator's messages; every step is Skipped (Invalid);
conditions and Events follow from the change, as for any other status. Nothing is created or
deleted and the flow is not requeued: only an edit of its spec (a new generation) brings it back
(see ``finished.stale_invalid``). A status that already says this is planned again unchanged,
so it is not rewritten.
"""

from __future__ import annotations

from datetime import datetime

from zenflow.api.formats import clip
from zenflow.api.jobflow import JobFlow
from zenflow.api.reasons import REASON_INVALID
from zenflow.api.status import JobFlowStatus, StepStatus
from zenflow.core.planning.flowstatus import build_conditions, flow_events
from zenflow.core.planning.plan import Plan


def invalid_plan(
    flow: JobFlow, problems: str, now: datetime, *, reason: str = REASON_INVALID
) -> Plan:
    """What a reconcile of ``flow`` does when the validator reports ``problems``. ``flow``
    holds as much of the spec as parsed (its steps, if any, are listed as Skipped). ``reason``:
    ``TemplateNotFound`` when a template the flow refers to does not exist (same rules)."""
    prev = flow.status
    status = JobFlowStatus(
        phase="Failed",
        reason=reason,
        message=clip(problems),
        start_time=prev.start_time if prev else None,
        completion_time=prev.completion_time if prev and prev.completion_time else now,
        observed_generation=flow.generation,
        notifications=prev.notifications if prev else None,
        steps=[
            StepStatus(name=s.name, phase="Skipped", reason=reason) for s in flow.spec.all_steps()
        ]
        or None,
    )
    status.conditions = build_conditions(
        status=status,
        previous=prev.conditions if prev else None,
        queued_message=None,
        suspended=False,
        generation=flow.generation,
        now=now,
    )
    return Plan(status=status, events=flow_events(previous=prev, current=status))
