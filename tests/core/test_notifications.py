"""Which notifications are due (pure).

Aspects: each event kind (flow Succeeded/Failed, a Waiting gate, a Failed step — not a Retrying
one) is due only for notifications listing it; records of the current run (status.startTime)
make an event not due, records of an older run do not; per-step notices are capped per run
(those recorded count); the flow's
own notifications win over the defaults, which carry their Secret namespace; ids are
deterministic per (uid, run, key) and differ between runs; ``record`` keeps one record per key
of the current run; the text names the flow, step and reason."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from zenflow.api.jobflow import JobFlow
from zenflow.api.limits import MAX_STEP_NOTICES
from zenflow.api.notification import Notification, NotificationRecord
from zenflow.core.notifications import due_notices, notice_text, record, run_of

START = "2026-01-01T10:00:00Z"
HOOK = {"webhook": {"urlFrom": {"secretKeyRef": {"name": "hooks", "key": "url"}}}}


def flow(
    status: dict[str, Any] | None,
    events: list[str] | None = None,
    *,
    notifications: list[dict[str, Any]] | None = None,
) -> JobFlow:
    spec: dict[str, Any] = {
        "steps": [{"name": n, "run": {"image": "x"}} for n in ("a", "b", "gate")],
    }
    if notifications is None and events is not None:
        notifications = [{"name": "ops", "events": events, **HOOK}]
    if notifications:
        spec["notifications"] = notifications
    return JobFlow.model_validate(
        {"metadata": {"name": "f", "namespace": "ns", "uid": "u1"}, "spec": spec, "status": status}
    )


def status(phase: str, steps: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "phase": phase,
        "startTime": START,
        "completionTime": "2026-01-01T10:05:00Z" if phase in ("Succeeded", "Failed") else None,
        "steps": [{"name": n, "phase": p} for n, p in steps.items()],
        **extra,
    }


ALL = ["Succeeded", "Failed", "Waiting", "StepFailed"]


@pytest.mark.parametrize(
    ("st", "events", "keys"),
    [
        pytest.param(
            status("Succeeded", {"a": "Succeeded"}), ALL, ["ops/Succeeded"], id="succeeded"
        ),
        pytest.param(
            status("Failed", {"a": "Failed", "b": "Skipped"}),
            ALL,
            ["ops/StepFailed/a", "ops/Failed"],
            id="failed",
        ),
        pytest.param(
            status("Running", {"a": "Succeeded", "gate": "Waiting"}),
            ALL,
            ["ops/Waiting/gate"],
            id="waiting",
        ),
        pytest.param(
            status("Running", {"a": "Retrying", "b": "Failed"}),
            ALL,
            ["ops/StepFailed/b"],
            id="retrying-is-not-failed",
        ),
        pytest.param(status("Failed", {"a": "Failed"}), ["Succeeded"], [], id="not-listed"),
        pytest.param(status("Running", {"a": "Running"}), ALL, [], id="nothing-yet"),
    ],
)
def test_events_due(st: dict[str, Any], events: list[str], keys: list[str]) -> None:
    assert [n.key for n in due_notices(flow=flow(st, events))] == keys


def test_records_of_this_run_only_silence_an_event() -> None:
    done = [{"key": "ops/Failed", "run": START, "state": "Delivered"}]
    st = status("Failed", {"a": "Failed"}, notifications=done)
    assert [n.key for n in due_notices(flow=flow(st, ALL))] == ["ops/StepFailed/a"]
    gave_up = [
        {"key": "ops/Failed", "run": START, "state": "Failed", "attempts": 6},
        {"key": "ops/StepFailed/a", "run": "2025-12-31T00:00:00Z", "state": "Delivered"},
    ]
    st = status("Failed", {"a": "Failed"}, notifications=gave_up)
    assert [n.key for n in due_notices(flow=flow(st, ALL))] == ["ops/StepFailed/a"]


def test_no_status_or_no_notifications_means_nothing_due() -> None:
    assert due_notices(flow=flow(None, ALL)) == []
    assert due_notices(flow=flow(status("Failed", {"a": "Failed"}))) == []


def test_step_notices_are_capped() -> None:
    many = {f"s{i}": "Failed" for i in range(MAX_STEP_NOTICES + 5)}
    keys = [n.key for n in due_notices(flow=flow(status("Failed", many), ["StepFailed"]))]
    assert len(keys) == MAX_STEP_NOTICES
    assert keys[0] == "ops/StepFailed/s0"


def test_step_notices_are_capped_per_run_counting_those_recorded() -> None:
    """Steps that fail one after another never make a run notify more than the cap."""
    # s5.. failed and were notified first; s0..s4 failed later (earlier in spec order)
    recorded = [
        {"key": f"ops/StepFailed/s{i}", "run": START, "state": "Delivered"}
        for i in range(5, 5 + MAX_STEP_NOTICES - 2)
    ]
    many = {f"s{i}": "Failed" for i in range(MAX_STEP_NOTICES + 5)}
    st = status("Running", many, notifications=recorded)
    keys = [n.key for n in due_notices(flow=flow(st, ["StepFailed"]))]
    assert keys == ["ops/StepFailed/s0", "ops/StepFailed/s1"]
    older = [{**r, "run": "2025-12-31T00:00:00Z"} for r in recorded]
    st = status("Running", many, notifications=older)
    assert len(due_notices(flow=flow(st, ["StepFailed"]))) == MAX_STEP_NOTICES


def test_defaults_apply_only_without_own_notifications() -> None:
    default = Notification.model_validate({"name": "all", "events": ["Failed"], **HOOK})
    st = status("Failed", {"a": "Failed"})
    notices = due_notices(flow=flow(st), defaults=[default], defaults_namespace="zenflow-system")
    assert [(n.key, n.secret_namespace) for n in notices] == [("all/Failed", "zenflow-system")]
    own = due_notices(flow=flow(st, ["Failed"]), defaults=[default], defaults_namespace="x")
    assert [(n.key, n.secret_namespace) for n in own] == [("ops/Failed", "ns")]


def test_ids_are_deterministic_per_run_and_payload_names_the_step() -> None:
    st = status("Failed", {"a": "Failed"})
    first = due_notices(flow=flow(st, ALL))
    again = due_notices(flow=flow(st, ALL))
    assert [n.id for n in first] == [n.id for n in again]
    assert len({n.id for n in first}) == 2
    later = due_notices(flow=flow({**st, "startTime": "2026-01-02T00:00:00Z"}, ALL))
    assert not {n.id for n in first} & {n.id for n in later}
    step_failed = first[0]
    assert step_failed.type == "io.zen.workflow.jobflow.step.failed"
    assert step_failed.data["step"] == {"name": "a", "phase": "Failed"}
    assert step_failed.source == "/apis/workflow.zen.io/v1alpha1/namespaces/ns/jobflows/f"
    assert first[1].time == datetime(2026, 1, 1, 10, 5, tzinfo=UTC)


def test_record_keeps_one_per_key_of_the_current_run() -> None:
    old = NotificationRecord(key="ops/Failed", run="old", state="Delivered")
    mine = NotificationRecord(key="ops/Waiting/gate", run=START, state="Delivered")
    retried = NotificationRecord(key="ops/Waiting/gate", run=START, state="Failed", attempts=3)
    assert record([old, mine], [retried], run=START) == [retried]
    assert run_of(None) == ""


def test_text() -> None:
    st = status("Failed", {"a": "Failed"}, reason="StepFailed", message='step "a" failed')
    notices = due_notices(flow=flow(st, ALL))
    assert [notice_text(n) for n in notices] == [
        "JobFlow ns/f: step a failed (Failed)",
        'JobFlow ns/f failed: StepFailed: step "a" failed',
    ]
