"""The CronJobFlow controller's Events (zenflow.controller.cronjobflow.events), pure: the Event for
each skip reason (Forbid names the active run, MissedSchedule the time and the deadline; nothing
for a time not due), the messages naming runs, and ``SkipMemo`` reporting a skip once per
schedule time until it is forgotten."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from zenflow.controller.cronjobflow import events as cron_events
from zenflow.core.planning.flowstatus import EventSpec
from zenflow.core.schedule import CronDecision, SkipReason
from zenflow.machinery.reconcile import make_key

T = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def decision(skipped: SkipReason | None, *, active: tuple[str, ...] = ()) -> CronDecision:
    return CronDecision(
        create=None,
        scheduled_time=T,
        skipped=skipped,
        cancel=(),
        prune=(),
        active=active,
        last_schedule_time=None,
        last_successful_time=None,
        requeue_after=60.0,
    )


@pytest.mark.parametrize(
    ("skipped", "expected"),
    [
        pytest.param(
            "ConcurrencyForbid",
            EventSpec(
                "Normal",
                "RunSkipped",
                "Not starting the run for 2026-01-01T12:00:00Z: JobFlow c-1 is still active "
                "(concurrencyPolicy Forbid)",
            ),
            id="forbid",
        ),
        pytest.param(
            "MissedDeadline",
            EventSpec(
                "Warning",
                "MissedSchedule",
                "Missed the run for 2026-01-01T12:00:00Z: more than startingDeadlineSeconds "
                "(30) late",
            ),
            id="missed",
        ),
        pytest.param("NotDue", None, id="not-due"),
        pytest.param("Suspended", None, id="suspended"),
        pytest.param("AlreadyExists", None, id="already-exists"),
    ],
)
def test_skip_event(skipped: SkipReason, expected: EventSpec | None) -> None:
    got = cron_events.skip_event(decision(skipped, active=("c-1",)), starting_deadline_seconds=30)
    assert got == expected


def test_messages_name_the_runs() -> None:
    assert cron_events.run_created(run="c-29444160", scheduled=T) == EventSpec(
        "Normal", "RunCreated", "Created JobFlow c-29444160 for 2026-01-01T12:00:00Z"
    )
    replaced = cron_events.run_replaced(cancelled="c-1", run="c-2")
    assert (replaced.reason, replaced.message) == (
        "RunReplaced",
        "Cancelled active JobFlow c-1 to start c-2 (concurrencyPolicy Replace)",
    )
    assert cron_events.run_deleted(run="c-1").reason == "RunDeleted"
    assert cron_events.run_name_taken(run="c-1").type == "Warning"
    assert cron_events.too_many_missed().reason == "TooManyMissedRuns"
    assert cron_events.invalid(schedule=True, message="m") == EventSpec(
        "Warning", "InvalidSchedule", "m"
    )
    assert cron_events.invalid(schedule=False, message="m").reason == "InvalidSpec"


def test_skip_memo_reports_once_per_schedule_time() -> None:
    memo = cron_events.SkipMemo()
    key, other = make_key("ns", "c"), make_key("ns", "d")
    assert memo.first(key, reason="ConcurrencyForbid", scheduled=T)
    assert not memo.first(key, reason="ConcurrencyForbid", scheduled=T)
    assert memo.first(other, reason="ConcurrencyForbid", scheduled=T)
    later = T + timedelta(minutes=1)
    assert memo.first(key, reason="ConcurrencyForbid", scheduled=later)
    assert memo.first(key, reason="MissedDeadline", scheduled=later)
    memo.forget(key)
    assert memo.first(key, reason="MissedDeadline", scheduled=later)
