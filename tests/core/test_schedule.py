"""Pure CronJobFlow decisions (zenflow.core.schedule) at fixed times:

- next schedule time, in UTC and in a time zone across a daylight-saving change;
- the most recent unmet time, missed-run counting, startingDeadlineSeconds;
- deterministic run names and their round trip;
- concurrency policies Allow, Forbid, Replace;
- idempotence: a run that already exists is recorded, not created again;
- history pruning per limit, oldest first; lastSuccessfulTime; suspend; invalid schedules.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from zenflow.core.schedule import (
    MAX_MISSED_TO_COUNT,
    ChildRun,
    CronSpec,
    ScheduleError,
    decide,
    history_to_prune,
    most_recent_unmet,
    next_schedule_time,
    run_name,
    scheduled_time_of,
)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def run(
    name: str, *, phase: str | None = None, created: float = 0, done: float | None = None
) -> ChildRun:
    return ChildRun(
        name=name,
        creation_time=at(created),
        phase=phase,
        completion_time=None if done is None else at(done),
    )


@pytest.mark.parametrize(
    ("schedule", "zone", "after", "expected"),
    [
        pytest.param("* * * * *", None, at(0.5), at(1), id="every-minute"),
        pytest.param("*/15 * * * *", None, at(0), at(15), id="strictly-after"),
        pytest.param("@hourly", None, at(1), at(60), id="macro"),
        pytest.param(
            "0 2 * * *",
            "Europe/Paris",
            datetime(2026, 3, 28, 12, 0, tzinfo=UTC),
            datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
            id="paris-dst-day-02:00-is-03:00-cest",
        ),
        pytest.param(
            "0 2 * * *",
            "Europe/Paris",
            datetime(2026, 1, 10, 12, 0, tzinfo=UTC),
            datetime(2026, 1, 11, 1, 0, tzinfo=UTC),
            id="paris-winter",
        ),
    ],
)
def test_next_schedule_time(
    schedule: str, zone: str | None, after: datetime, expected: datetime
) -> None:
    assert next_schedule_time(schedule=schedule, time_zone=zone, after=after) == expected


@pytest.mark.parametrize(
    ("deadline", "earliest", "now", "expected", "count"),
    [
        pytest.param(None, at(0), at(0.5), None, 0, id="nothing-due"),
        pytest.param(None, at(0), at(1), at(1), 1, id="exactly-due"),
        pytest.param(None, at(0), at(5.5), at(5), 5, id="five-missed"),
        pytest.param(60, at(0), at(5.5), at(5), 1, id="deadline-limits-count"),
        pytest.param(10, at(0), at(5.5), None, 0, id="deadline-passed"),
        pytest.param(None, at(3), at(3), None, 0, id="earliest-is-now"),
        # The last second before a schedule time: not due yet, however close (it once was).
        pytest.param(
            None, at(0), at(1) - timedelta(milliseconds=500), None, 0, id="half-second-early"
        ),
        pytest.param(
            None, at(0), at(1) - timedelta(microseconds=1), None, 0, id="a-microsecond-early"
        ),
        pytest.param(None, at(0), at(1) + timedelta(microseconds=1), at(1), 1, id="just-after"),
        pytest.param(None, at(1), at(2) - timedelta(milliseconds=300), None, 0, id="after-a-run"),
    ],
)
def test_most_recent_unmet(
    deadline: int | None,
    earliest: datetime,
    now: datetime,
    expected: datetime | None,
    count: int,
) -> None:
    spec = CronSpec(name="c", schedule="* * * * *", starting_deadline_seconds=deadline)
    assert most_recent_unmet(spec=spec, earliest=earliest, now=now) == (expected, count)


def test_missed_runs_are_counted_up_to_the_cap() -> None:
    spec = CronSpec(name="c", schedule="* * * * *")
    latest, count = most_recent_unmet(spec=spec, earliest=at(0), now=at(10_000))
    assert latest == at(10_000)
    assert count == MAX_MISSED_TO_COUNT + 1


def test_run_names_are_deterministic_and_round_trip() -> None:
    name = run_name("nightly", at(1))
    assert name == f"nightly-{int(at(1).timestamp()) // 60}"
    assert run_name("nightly", at(1) + timedelta(seconds=30)) == name
    assert scheduled_time_of("nightly", name) == at(1)
    assert scheduled_time_of("nightly", "nightly-abc") is None
    assert scheduled_time_of("nightly", "other-123") is None


def test_due_run_is_created_and_requeued_for_the_next_time() -> None:
    spec = CronSpec(name="c", schedule="* * * * *")
    d = decide(
        spec=spec,
        creation_time=at(0),
        last_schedule_time=None,
        last_successful_time=None,
        children=[],
        now=at(1) + timedelta(seconds=20),
    )
    assert d.create == run_name("c", at(1))
    assert d.scheduled_time == at(1)
    assert d.last_schedule_time == at(1)
    assert d.skipped is None
    assert d.requeue_after == pytest.approx(40.1)


def test_nothing_due_only_requeues() -> None:
    spec = CronSpec(name="c", schedule="*/10 * * * *")
    d = decide(
        spec=spec,
        creation_time=at(0),
        last_schedule_time=None,
        last_successful_time=None,
        children=[],
        now=at(4),
    )
    assert (d.create, d.skipped) == (None, "NotDue")
    assert d.requeue_after == pytest.approx(360.1)


def test_existing_run_is_recorded_not_created_again() -> None:
    spec = CronSpec(name="c", schedule="* * * * *")
    name = run_name("c", at(1))
    d = decide(
        spec=spec,
        creation_time=at(0),
        last_schedule_time=None,
        last_successful_time=None,
        children=[run(name, phase="Running", created=1)],
        now=at(1.2),
    )
    assert (d.create, d.skipped) == (None, "AlreadyExists")
    assert d.last_schedule_time == at(1)
    assert d.active == (name,)


def test_missed_deadline_skips_without_recording() -> None:
    spec = CronSpec(name="c", schedule="*/10 * * * *", starting_deadline_seconds=30)
    d = decide(
        spec=spec,
        creation_time=at(0),
        last_schedule_time=None,
        last_successful_time=None,
        children=[],
        now=at(12),
    )
    assert (d.create, d.skipped, d.last_schedule_time) == (None, "MissedDeadline", None)
    assert d.scheduled_time == at(10)  # the time missed, for the MissedSchedule Event


@pytest.mark.parametrize(
    ("policy", "create", "skipped", "cancel"),
    [
        pytest.param("Allow", True, None, (), id="allow-runs-alongside"),
        pytest.param("Forbid", False, "ConcurrencyForbid", (), id="forbid-skips"),
        pytest.param("Replace", True, None, ("c-old",), id="replace-cancels-active"),
    ],
)
def test_concurrency_policy(
    policy: str, create: bool, skipped: str | None, cancel: tuple[str, ...]
) -> None:
    spec = CronSpec(name="c", schedule="* * * * *", concurrency_policy=policy)  # type: ignore[arg-type]
    d = decide(
        spec=spec,
        creation_time=at(0),
        last_schedule_time=at(1),
        last_successful_time=None,
        children=[run("c-old", phase="Running", created=1)],
        now=at(2),
    )
    assert (d.create is not None, d.skipped, d.cancel) == (create, skipped, cancel)
    assert d.active == ("c-old",)


def test_replace_does_not_cancel_twice() -> None:
    spec = CronSpec(name="c", schedule="* * * * *", concurrency_policy="Replace")
    old = ChildRun(name="c-old", creation_time=at(1), phase="Running", cancel_requested=True)
    d = decide(
        spec=spec,
        creation_time=at(0),
        last_schedule_time=at(1),
        last_successful_time=None,
        children=[old],
        now=at(2),
    )
    assert d.create is not None
    assert d.cancel == ()


def test_forbid_runs_the_unmet_time_once_the_active_run_ended() -> None:
    spec = CronSpec(name="c", schedule="*/10 * * * *", concurrency_policy="Forbid")
    d = decide(
        spec=spec,
        creation_time=at(0),
        last_schedule_time=at(0),
        last_successful_time=None,
        children=[run("c-old", phase="Succeeded", created=0, done=12)],
        now=at(12),
    )
    assert d.create == run_name("c", at(10))


def test_suspended_creates_nothing_and_waits_for_a_change() -> None:
    spec = CronSpec(name="c", schedule="* * * * *", suspend=True)
    d = decide(
        spec=spec,
        creation_time=at(0),
        last_schedule_time=None,
        last_successful_time=None,
        children=[],
        now=at(5),
    )
    assert (d.create, d.skipped, d.requeue_after) == (None, "Suspended", None)


def test_history_is_pruned_per_limit_oldest_first() -> None:
    children = [
        run("s1", phase="Succeeded", done=1),
        run("s2", phase="Succeeded", done=2),
        run("s3", phase="Succeeded", done=3),
        run("f1", phase="Failed", done=1),
        run("f2", phase="Failed", done=4),
        run("r1", phase="Running"),
    ]
    assert history_to_prune(children, successful_limit=2, failed_limit=1) == ("s1", "f1")
    assert history_to_prune(children, successful_limit=0, failed_limit=0) == (
        "s1",
        "s2",
        "s3",
        "f1",
        "f2",
    )


def test_last_successful_time_is_the_latest_success() -> None:
    spec = CronSpec(name="c", schedule="0 0 1 1 *")
    d = decide(
        spec=spec,
        creation_time=at(0),
        last_schedule_time=None,
        last_successful_time=at(2),
        children=[run("a", phase="Succeeded", done=5), run("b", phase="Failed", done=9)],
        now=at(10),
    )
    assert d.last_successful_time == at(5)


@pytest.mark.parametrize(
    ("schedule", "zone"),
    [
        pytest.param("not a cron", None, id="bad-schedule"),
        pytest.param("* * * *", None, id="four-fields"),
        pytest.param("* * * * *", "Mars/Olympus", id="bad-zone"),
        pytest.param("0 0 31 2 *", None, id="never-matches-february-31"),
    ],
)
def test_invalid_schedule_raises(schedule: str, zone: str | None) -> None:
    spec = CronSpec(name="c", schedule=schedule, time_zone=zone)
    with pytest.raises(ScheduleError):
        decide(
            spec=spec,
            creation_time=at(0),
            last_schedule_time=None,
            last_successful_time=None,
            children=[],
            now=at(5),
        )
