"""Flow status helpers (zenflow.core.planning.flowstatus): counts and progress, conditions per
phase with lastTransitionTime kept while a condition's status is unchanged, and Events per
transition."""

from __future__ import annotations

from tests.core.planning.driver import T0, at
from zenflow.api.status import JobFlowStatus, StepStatus
from zenflow.core.planning.flowstatus import build_conditions, fill_counts, flow_events, step_events


def test_counts_and_progress() -> None:
    status = JobFlowStatus(
        steps=[
            StepStatus(name="a", phase="Succeeded"),
            StepStatus(name="b", phase="Failed", retry_count=2),
            StepStatus(name="c", phase="Skipped"),
            StepStatus(name="d", phase="Running"),
        ]
    )
    fill_counts(status)
    assert (status.progress, status.succeeded, status.failed, status.skipped) == ("3/4", 1, 1, 1)
    assert (status.running, status.retries, status.total) == (1, 2, 4)


def test_conditions_by_phase_and_transition_times() -> None:
    running = JobFlowStatus(phase="Running")
    first = build_conditions(
        status=running, previous=None, queued_message=None, suspended=False, generation=1, now=T0
    )
    assert [(c.type, c.status) for c in first] == [("Ready", "True")]
    failed = JobFlowStatus(phase="Failed", reason="StepFailed", message="m")
    later = build_conditions(
        status=failed, previous=first, queued_message=None, suspended=False, generation=1, now=at(9)
    )
    kinds = {c.type: c for c in later}
    assert (kinds["Ready"].status, kinds["Ready"].last_transition_time) == ("False", at(9))
    assert (kinds["Failed"].status, kinds["Failed"].reason) == ("True", "StepFailed")
    same = build_conditions(
        status=failed,
        previous=later,
        queued_message=None,
        suspended=False,
        generation=1,
        now=at(20),
    )
    assert same == later


def test_step_and_flow_events() -> None:
    before = {"a": StepStatus(name="a", phase="Running", attempt=1)}
    after = [
        StepStatus(name="a", phase="Succeeded", attempt=1),
        StepStatus(name="b", phase="Running", attempt=1, job_ref="f-b-1"),
        StepStatus(name="c", phase="Skipped", message="upstream"),
    ]
    assert [e.reason for e in step_events(previous=before, current=after)] == [
        "StepSucceeded",
        "StepStarted",
        "StepSkipped",
    ]
    retry = [StepStatus(name="a", phase="Running", attempt=2, retry_count=1, job_ref="f-a-2")]
    failed_before = {"a": StepStatus(name="a", phase="Running", attempt=1)}
    assert [e.reason for e in step_events(previous=failed_before, current=retry)] == [
        "StepRetrying",
        "StepStarted",
    ]
    assert step_events(previous={s.name: s for s in after}, current=after) == []
    done = JobFlowStatus(phase="Failed", reason="Cancelled", message="by user")
    (event,) = flow_events(previous=JobFlowStatus(phase="Running"), current=done)
    assert (event.type, event.reason, event.message) == (
        "Warning",
        "FlowFailed",
        "Cancelled: by user",
    )
    assert flow_events(previous=done, current=done) == []
