"""Pure CronJobFlow decisions: when the next run is due, which JobFlow to create for it, what the
concurrency policy does with the active runs, and which finished runs history pruning removes.

Everything is a function of (spec, observed children, ``now``), mirroring the Kubernetes CronJob
controller (v2): the most recent unmet schedule time after ``lastScheduleTime`` (else the
creation time) is the only one considered, runs missed by more than ``startingDeadlineSeconds``
are skipped, and a run's JobFlow name is deterministic (``<cronjobflow>-<unix minutes>``), so a
controller restarted between "created" and "status written" finds the run it already made
instead of creating it twice.

Times are timezone-aware; schedules are evaluated in ``timeZone`` (UTC by default), so "0 2 * *
*" in Europe/Paris follows daylight-saving changes.
"""

from __future__ import annotations

import functools
import importlib
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Final, Literal

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


_FIRES_FROM: Final = datetime(2000, 1, 1, tzinfo=UTC)
"""Where ``fires`` starts looking: a fixed instant, so validation does not depend on the clock.
Cron has no year field, so a schedule that fires at all fires again within 28 years (the
weekday calendar's cycle; croniter looks up to 50 years ahead), whatever the start."""


@functools.cache
def _croniter() -> ModuleType:
    """croniter (and dateutil, about 1.3 MiB), loaded the first time a schedule is read: a
    controller with no CronJobFlow never needs it."""
    return importlib.import_module("croniter")


def valid_expression(text: str) -> bool:
    """Whether croniter accepts the five-field ``text``."""
    return bool(_croniter().croniter.is_valid(text))


def fires(expression: str) -> bool:
    """False when the five-field ``expression`` matches no date at all, e.g. "0 0 31 2 *"
    (February 31st) or "0 0 30 2 *". Bounded (croniter stops after 50 years) and fast (~ms)."""
    cron = _croniter()
    try:
        cron.croniter(expression, _FIRES_FROM).get_next(datetime)
    except cron.CroniterError:
        return False
    return True


def normalize_schedule(schedule: str) -> str:
    """The five-field form of ``schedule`` (macros like @daily expanded)."""
    text = schedule.strip()
    return _MACROS.get(text.lower(), text)


MAX_MISSED_TO_COUNT: Final = 100
"""Missed start times are counted up to this many (as CronJob does); beyond it, the decision says
``too_many_missed`` and the most recent one is still the one considered."""

REQUEUE_SLACK_S: Final = 0.1
"""Added to the wait for the next schedule time so the reconcile lands just after it."""

ANNOTATION_SCHEDULED_TIME: Final = "workflow.zen.io/scheduled-time"
"""Set on each created JobFlow: the schedule time (RFC 3339, UTC) the run is for."""

MAX_RUN_NAME: Final = 63
"""A run's name is also the value of its Jobs' ``jobflow=<name>`` label: at most 63 characters
for it to stay readable (``zenflow.core.jobspec.label_value`` hashes longer ones)."""

RUN_NAME_SUFFIX: Final = 11
"""``-`` plus up to 10 digits of unix minutes (the year 9999, the last a datetime holds, has 10;
today's times have 8)."""

MAX_CRONJOBFLOW_NAME: Final = MAX_RUN_NAME - RUN_NAME_SUFFIX
"""52, as for CronJob: the longest CronJobFlow name whose runs' names fit ``MAX_RUN_NAME``."""

ConcurrencyPolicy = Literal["Allow", "Forbid", "Replace"]
SkipReason = Literal["Suspended", "NotDue", "MissedDeadline", "ConcurrencyForbid", "AlreadyExists"]


class ScheduleError(ValueError):
    """The schedule or time zone cannot be evaluated; the message names which."""


@dataclass(frozen=True, slots=True)
class CronSpec:
    """The parts of a CronJobFlow spec the decisions use."""

    name: str
    schedule: str
    time_zone: str | None = None
    concurrency_policy: ConcurrencyPolicy = "Allow"
    starting_deadline_seconds: int | None = None
    suspend: bool = False
    successful_history_limit: int = 3
    failed_history_limit: int = 1


@dataclass(frozen=True, slots=True)
class ChildRun:
    """A JobFlow owned by the CronJobFlow, as observed in the cache."""

    name: str
    creation_time: datetime
    phase: str | None = None
    completion_time: datetime | None = None
    cancel_requested: bool = False

    @property
    def finished(self) -> bool:
        return self.phase in ("Succeeded", "Failed")

    @property
    def succeeded(self) -> bool:
        return self.phase == "Succeeded"


@dataclass(frozen=True, slots=True)
class CronDecision:
    """What the controller does for one reconcile of a CronJobFlow.

    ``create`` is the JobFlow name to create for ``scheduled_time`` (None: create nothing, see
    ``skipped``; ``scheduled_time`` is then the time not run, if any); ``cancel`` lists active
    runs to cancel first (Replace); ``prune`` lists finished runs to delete beyond the history
    limits; the ``last_*``/``active`` fields are the status to write; ``requeue_after`` is the
    wait in seconds until the next schedule time (None when suspended).
    """

    create: str | None
    scheduled_time: datetime | None
    skipped: SkipReason | None
    cancel: tuple[str, ...]
    prune: tuple[str, ...]
    active: tuple[str, ...]
    last_schedule_time: datetime | None
    last_successful_time: datetime | None
    requeue_after: float | None
    missed: int = 0
    too_many_missed: bool = False


def _zone(time_zone: str | None) -> zoneinfo.ZoneInfo:
    if time_zone is None:
        return zoneinfo.ZoneInfo("UTC")
    try:
        return zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(f"unknown time zone {time_zone!r}") from exc


def _expression(schedule: str) -> str:
    text = normalize_schedule(schedule)
    if len(text.split()) != 5 or not valid_expression(text):
        raise ScheduleError(f"invalid cron schedule {schedule!r}")
    return text


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _step(expr: str, start: datetime, *, forward: bool) -> datetime:
    """The schedule time after (or before) ``start`` in UTC; ScheduleError when the schedule
    never matches a date (e.g. "0 0 31 2 *", February 31st)."""
    cron = _croniter()
    try:
        it = cron.croniter(expr, start)
        found: datetime = it.get_next(datetime) if forward else it.get_prev(datetime)
    except cron.CroniterError as exc:
        raise ScheduleError(f"cron schedule {expr!r} never fires: no date matches") from exc
    return found.astimezone(UTC)


def next_schedule_time(*, schedule: str, time_zone: str | None, after: datetime) -> datetime:
    """The first schedule time strictly after ``after`` (UTC)."""
    zone = _zone(time_zone)
    return _step(_expression(schedule), _aware(after).astimezone(zone), forward=True)


def most_recent_unmet(
    *, spec: CronSpec, earliest: datetime, now: datetime
) -> tuple[datetime | None, int]:
    """The latest schedule time in ``(earliest, now]`` and how many there are (counted up to
    ``MAX_MISSED_TO_COUNT + 1``); ``(None, 0)`` when none is due."""
    earliest, now = _aware(earliest), _aware(now)
    if spec.starting_deadline_seconds is not None:
        earliest = max(earliest, now - timedelta(seconds=spec.starting_deadline_seconds))
    if earliest >= now:
        return None, 0
    zone = _zone(spec.time_zone)
    expr = _expression(spec.schedule)
    # The most recent time ≤ now: croniter's get_prev is strict, so start one second after now
    # cut to its whole second. Schedule times are whole seconds, so none lies in (floor, now];
    # now + 1 s itself would cross into the next time during the last second before it (at
    # 14:00:59.5 it made 14:01:00 due, half a second early).
    start = now.replace(microsecond=0) + timedelta(seconds=1)
    latest = _step(expr, start.astimezone(zone), forward=False)
    if latest <= earliest:
        return None, 0
    count = 0
    t = earliest
    while count <= MAX_MISSED_TO_COUNT:
        t = _step(expr, t.astimezone(zone), forward=True)
        if t > now:
            break
        count += 1
    return latest, count


def run_name(cron_name: str, scheduled_time: datetime) -> str:
    """The JobFlow name of the run for ``scheduled_time``: ``<cron>-<unix minutes>``."""
    return f"{cron_name}-{int(_aware(scheduled_time).timestamp()) // 60}"


def scheduled_time_of(cron_name: str, run: str) -> datetime | None:
    """The schedule time encoded in a run's name (None if ``run`` is not named like one)."""
    prefix = f"{cron_name}-"
    suffix = run[len(prefix) :] if run.startswith(prefix) else ""
    if not suffix.isdigit():
        return None
    return datetime.fromtimestamp(int(suffix) * 60, tz=UTC)


def history_to_prune(
    children: Sequence[ChildRun], *, successful_limit: int, failed_limit: int
) -> tuple[str, ...]:
    """Finished runs beyond the history limits, oldest first (by completion, else creation)."""

    def age_key(run: ChildRun) -> tuple[datetime, str]:
        return (_aware(run.completion_time or run.creation_time), run.name)

    doomed: list[str] = []
    for wanted, limit in ((True, successful_limit), (False, failed_limit)):
        runs = sorted((c for c in children if c.finished and c.succeeded is wanted), key=age_key)
        excess = max(0, len(runs) - limit)
        doomed.extend(run.name for run in runs[:excess])
    return tuple(doomed)


def decide(
    *,
    spec: CronSpec,
    creation_time: datetime,
    last_schedule_time: datetime | None,
    last_successful_time: datetime | None,
    children: Sequence[ChildRun],
    now: datetime,
) -> CronDecision:
    """One reconcile's decision for a CronJobFlow (raises ScheduleError for a bad schedule)."""
    now = _aware(now)
    active = tuple(sorted(c.name for c in children if not c.finished))
    existing = {c.name for c in children}
    successes = [_aware(c.completion_time or c.creation_time) for c in children if c.succeeded]
    if last_successful_time is not None:
        successes.append(_aware(last_successful_time))
    last_ok = max(successes, default=None)
    prune = history_to_prune(
        children,
        successful_limit=spec.successful_history_limit,
        failed_limit=spec.failed_history_limit,
    )

    def result(
        *,
        create: str | None = None,
        scheduled: datetime | None = None,
        skipped: SkipReason | None = None,
        cancel: tuple[str, ...] = (),
        last_schedule: datetime | None = last_schedule_time,
        requeue: float | None = None,
        missed: int = 0,
    ) -> CronDecision:
        return CronDecision(
            create=create,
            scheduled_time=scheduled,
            skipped=skipped,
            cancel=cancel,
            prune=prune,
            active=active,
            last_schedule_time=last_schedule,
            last_successful_time=last_ok,
            requeue_after=requeue,
            missed=missed,
            too_many_missed=missed > MAX_MISSED_TO_COUNT,
        )

    if spec.suspend:
        return result(skipped="Suspended")
    upcoming = next_schedule_time(schedule=spec.schedule, time_zone=spec.time_zone, after=now)
    requeue = max(0.0, (upcoming - now).total_seconds()) + REQUEUE_SLACK_S
    earliest = _aware(last_schedule_time or creation_time)
    scheduled, missed = most_recent_unmet(spec=spec, earliest=earliest, now=now)
    if scheduled is None:
        # Either nothing is due, or every due time is older than startingDeadlineSeconds.
        due, _ = most_recent_unmet(
            spec=CronSpec(name=spec.name, schedule=spec.schedule, time_zone=spec.time_zone),
            earliest=earliest,
            now=now,
        )
        # MissedDeadline names the latest time missed (for the MissedSchedule Event).
        reason: SkipReason = "NotDue" if due is None else "MissedDeadline"
        return result(scheduled=due, skipped=reason, requeue=requeue)
    name = run_name(spec.name, scheduled)
    if name in existing:
        # Created before (the status write was lost, or the cache lagged): only record it.
        return result(
            scheduled=scheduled,
            skipped="AlreadyExists",
            last_schedule=scheduled,
            requeue=requeue,
            missed=missed,
        )
    if active and spec.concurrency_policy == "Forbid":
        # The time stays unmet: it runs when the active one ends, if still within the deadline.
        return result(scheduled=scheduled, skipped="ConcurrencyForbid", requeue=requeue)
    cancel: tuple[str, ...] = ()
    if spec.concurrency_policy == "Replace":
        live = {c.name: c for c in children if not c.finished}
        cancel = tuple(n for n in active if not live[n].cancel_requested)
    return result(
        create=name,
        scheduled=scheduled,
        cancel=cancel,
        last_schedule=scheduled,
        requeue=requeue,
        missed=missed,
    )
