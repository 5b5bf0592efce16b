"""Flow-level status from step statuses: counts, progress, conditions, and the Events that the
change from the previous status deserves.

Conditions follow the Kubernetes convention: ``lastTransitionTime`` changes only when a
condition's status flips, so an unchanged flow produces an identical status (and no write).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from zenflow.api.common import Condition
from zenflow.api.status import (
    CONDITION_COMPLETED,
    CONDITION_FAILED,
    CONDITION_QUEUED,
    CONDITION_READY,
    CONDITION_SUSPENDED,
    JobFlowStatus,
    StepStatus,
    is_step_terminal,
)

EventType = Literal["Normal", "Warning"]


@dataclass(frozen=True, slots=True)
class EventSpec:
    """A core/v1 Event to record on the flow. ``final``: the flow reached a terminal phase, so
    the recorder writes this Event and everything still pending about the flow at once."""

    type: EventType
    reason: str
    message: str
    final: bool = False


def fill_counts(status: JobFlowStatus) -> None:
    """Set total, completed, succeeded, failed, skipped, running, retries and progress."""
    steps = status.steps or []
    phases = [s.phase for s in steps]
    status.total = len(steps)
    status.completed = sum(1 for p in phases if is_step_terminal(p))
    status.succeeded = phases.count("Succeeded")
    status.failed = phases.count("Failed")
    status.skipped = phases.count("Skipped")
    status.running = phases.count("Running")
    status.retries = sum(s.retry_count or 0 for s in steps)
    status.progress = f"{status.completed}/{status.total}"


def build_conditions(
    *,
    status: JobFlowStatus,
    previous: Sequence[Condition] | None,
    queued_message: str | None,
    suspended: bool,
    generation: int,
    now: datetime,
) -> list[Condition]:
    """The flow's conditions for its (already decided) phase, reason and message."""
    prev = {c.type: c for c in previous or []}
    out: list[Condition] = []

    def put(kind: str, value: bool, reason: str, message: str | None) -> None:
        old = prev.get(kind)
        state: Literal["True", "False"] = "True" if value else "False"
        changed = old is None or old.status != state
        out.append(
            Condition(
                type=kind,
                status=state,
                reason=reason,
                message=message,
                last_transition_time=now if changed or old is None else old.last_transition_time,
                observed_generation=generation,
            )
        )

    phase = status.phase
    if phase == "Failed":
        put(CONDITION_READY, False, status.reason or "Failed", status.message)
    elif queued_message is not None:
        put(CONDITION_READY, False, "Queued", queued_message)
    elif phase == "Suspended":
        put(CONDITION_READY, False, "Suspended", "spec.suspend is true")
    else:
        put(CONDITION_READY, True, phase, status.message)
    if phase == "Succeeded":
        put(CONDITION_COMPLETED, True, "Succeeded", status.message)
    if phase == "Failed":
        put(CONDITION_FAILED, True, status.reason or "Failed", status.message)
    if suspended or CONDITION_SUSPENDED in prev:
        put(CONDITION_SUSPENDED, suspended, "Suspended" if suspended else "Resumed", None)
    if queued_message is not None or CONDITION_QUEUED in prev:
        put(
            CONDITION_QUEUED,
            queued_message is not None,
            "Queued" if queued_message is not None else "Started",
            queued_message,
        )
    return out


def step_events(
    *, previous: Mapping[str, StepStatus], current: Sequence[StepStatus]
) -> list[EventSpec]:
    """Events for the step transitions from ``previous`` to ``current``."""
    out: list[EventSpec] = []
    for st in current:
        old = previous.get(st.name)
        same_attempt = old is not None and old.attempt == st.attempt
        if old is not None and old.phase == st.phase and same_attempt:
            continue
        if st.phase == "Running" and not (
            old is not None and old.phase == "Running" and same_attempt
        ):
            if (st.retry_count or 0) > 0 and (old is None or old.phase != "Retrying"):
                # An immediate retry (no backoff) never shows phase Retrying: say so here.
                out.append(
                    EventSpec(
                        "Warning",
                        "StepRetrying",
                        f'step "{st.name}" attempt {(st.attempt or 2) - 1} failed; '
                        f"retry {st.retry_count} starts now",
                    )
                )
            out.append(
                EventSpec("Normal", "StepStarted", f'step "{st.name}" started: Job {st.job_ref}')
            )
        elif st.phase == "Retrying" and (old is None or old.phase != "Retrying"):
            out.append(
                EventSpec(
                    "Warning",
                    "StepRetrying",
                    f'step "{st.name}" attempt {st.attempt} failed ({st.message or st.reason}); '
                    f"retry {(st.retry_count or 0) + 1} at {st.next_retry_time}",
                )
            )
        elif st.phase == "Succeeded" and (old is None or old.phase != "Succeeded"):
            out.append(EventSpec("Normal", "StepSucceeded", f'step "{st.name}" succeeded'))
        elif st.phase == "Failed" and (old is None or old.phase != "Failed"):
            detail = ": ".join(x for x in (st.reason, st.message) if x)
            out.append(EventSpec("Warning", "StepFailed", f'step "{st.name}" failed: {detail}'))
        elif st.phase == "Skipped" and (old is None or old.phase != "Skipped"):
            out.append(
                EventSpec("Normal", "StepSkipped", f'step "{st.name}" skipped: {st.message}')
            )
        elif st.phase == "Waiting" and (old is None or old.phase != "Waiting"):
            out.append(EventSpec("Normal", "StepWaiting", f'step "{st.name}" waits for approval'))
    return out


def flow_events(*, previous: JobFlowStatus | None, current: JobFlowStatus) -> list[EventSpec]:
    """FlowSucceeded / FlowFailed / FlowQueued when the flow's phase or reason changed."""
    old_phase = previous.phase if previous is not None else None
    old_reason = previous.reason if previous is not None else None
    if current.phase == old_phase and current.reason == old_reason:
        return []
    if current.phase == "Succeeded":
        message = current.message or "all steps finished"
        return [EventSpec("Normal", "FlowSucceeded", message, final=True)]
    if current.phase == "Failed":
        text = f"{current.reason}: {current.message}" if current.message else str(current.reason)
        return [EventSpec("Warning", "FlowFailed", text, final=True)]
    if current.phase == "Suspended":
        return [EventSpec("Normal", "FlowSuspended", "spec.suspend is true")]
    if current.reason == "Queued":
        return [EventSpec("Normal", "FlowQueued", current.message or "queued")]
    return []
