"""The status estimate counts the records a run adds besides the steps' own entries, each at
its cap:

- a Manual step's ``approvals`` records: one per (user, decision) among the approvals
  annotation's entries, so with any Manual step the annotation's ``MAX_ENTRIES`` at their
  largest, once per flow (the annotation is one list for all steps);
- ``status.notifications`` delivery records of the flow's own notifications: one per flow event
  a notification lists, and up to ``MAX_STEP_NOTICES`` per per-step event (Waiting: Manual
  steps, StepFailed: any step), no more than the flow has steps;
- each record estimate is at least the size of the largest record the controller can write.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from zenflow.api import limits
from zenflow.api.approvals import MAX_ENTRIES, MAX_REASON_LENGTH
from zenflow.api.formats import clip, format_time
from zenflow.api.jobflow import JobFlowSpec
from zenflow.api.notification import NotificationRecord
from zenflow.api.status import ApprovalRecord
from zenflow.core.validation.sizes import (
    APPROVAL_RECORD_BYTES,
    NOTIFICATION_RECORD_BYTES,
    notification_records,
    status_estimate,
)

HOOK = {"webhook": {"urlFrom": {"secretKeyRef": {"name": "hooks", "key": "url"}}}}
NOW = datetime(2026, 11, 29, 21, 0, 0, tzinfo=UTC)


def spec(jobs: int, gates: int = 0, *notifications: dict[str, Any]) -> JobFlowSpec:
    steps: list[dict[str, Any]] = [{"name": f"j{i}", "run": {"image": "x"}} for i in range(jobs)]
    steps += [{"name": f"g{i}", "type": "Manual"} for i in range(gates)]
    return JobFlowSpec.model_validate({"steps": steps, "notifications": list(notifications)})


def note(name: str, *events: str) -> dict[str, Any]:
    return {"name": name, "events": list(events), **HOOK}


def _gate_entry_bytes() -> int:
    """What a gate adds to the estimate besides its approval records (name, approver)."""
    return (
        status_estimate(spec(1, 1))
        - status_estimate(spec(1))
        - MAX_ENTRIES * (APPROVAL_RECORD_BYTES)
    )


def test_a_manual_step_counts_the_annotations_entries_once_per_flow() -> None:
    one_gate = status_estimate(spec(1, 1)) - status_estimate(spec(1))
    assert one_gate >= MAX_ENTRIES * APPROVAL_RECORD_BYTES
    two_gates = status_estimate(spec(1, 2)) - status_estimate(spec(1))
    assert two_gates == 2 * _gate_entry_bytes() + MAX_ENTRIES * APPROVAL_RECORD_BYTES


def test_notification_records_follow_the_events_and_the_caps() -> None:
    assert notification_records(spec(3)) == 0
    assert notification_records(spec(3, 0, note("a", "Failed"))) == 1
    assert notification_records(spec(3, 0, note("a", "Succeeded", "Failed"))) == 2
    # per-step events: no more than the steps that can have them, and at most the cap
    assert notification_records(spec(3, 2, note("a", "Waiting", "StepFailed"))) == 2 + 5
    many = spec(50, 30, note("a", "Waiting", "StepFailed"), note("b", "Failed"))
    assert notification_records(many) == 2 * limits.MAX_STEP_NOTICES + 1
    with_notes = status_estimate(many) - status_estimate(spec(50, 30))
    assert with_notes == notification_records(many) * NOTIFICATION_RECORD_BYTES


def test_record_estimates_bound_the_largest_records_written() -> None:
    approval = ApprovalRecord(
        user="u" * 253,
        time=NOW,
        decision="Rejected",
        reason=clip("r" * (MAX_REASON_LENGTH + 1)),
    )
    dumped = approval.model_dump_json(by_alias=True, exclude_none=True).encode()
    assert len(dumped) + 1 <= APPROVAL_RECORD_BYTES
    name = "n" * limits.MAX_STEP_NAME_LENGTH
    delivery = NotificationRecord.model_validate(
        {
            "key": f"{name}/StepFailed/{'s' * limits.MAX_STEP_NAME_LENGTH}",
            "run": format_time(NOW),
            "state": "Delivered",
            "time": NOW,
            "attempts": limits.MAX_NOTIFICATION_RETRIES + 1,
            "message": clip("m" * 10_000),
        }
    )
    dumped = delivery.model_dump_json(by_alias=True, exclude_none=True).encode()
    assert len(dumped) + 1 <= NOTIFICATION_RECORD_BYTES
