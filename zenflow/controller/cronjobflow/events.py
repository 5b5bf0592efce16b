"""The core/v1 Events the CronJobFlow controller records on a CronJobFlow (written by the shared
``zenflow.controller.events.EventRecorder``), after the CronJob controller's:

=====================  =======  ==========================================================
reason                 type     when
=====================  =======  ==========================================================
``RunCreated``         Normal   a JobFlow was created for a schedule time (names it)
``RunReplaced``        Normal   concurrencyPolicy Replace cancelled an active run
``RunSkipped``         Normal   concurrencyPolicy Forbid: a run is still active (names it)
``MissedSchedule``     Warning  a schedule time is older than startingDeadlineSeconds
``TooManyMissedRuns``  Warning  more than 100 times were missed; only the latest one runs
``RunNameTaken``       Warning  a JobFlow not owned by this CronJobFlow has the run's name
``RunDeleted``         Normal   a finished run was deleted beyond the history limits
``InvalidSchedule``    Warning  the schedule or time zone cannot be evaluated
``InvalidSpec``        Warning  the spec does not parse
=====================  =======  ==========================================================

Every reconcile re-derives its decision, and a CronJobFlow is re-queued by each update of its
runs, so a skip lasts many reconciles: ``SkipMemo`` makes it one Event per schedule time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from zenflow.api.formats import format_time
from zenflow.core.planning.flowstatus import EventSpec
from zenflow.core.schedule import MAX_MISSED_TO_COUNT, CronDecision
from zenflow.machinery.reconcile import ObjectKey

RUN_CREATED: Final = "RunCreated"
RUN_REPLACED: Final = "RunReplaced"
RUN_SKIPPED: Final = "RunSkipped"
MISSED_SCHEDULE: Final = "MissedSchedule"
TOO_MANY_MISSED_RUNS: Final = "TooManyMissedRuns"
RUN_NAME_TAKEN: Final = "RunNameTaken"
RUN_DELETED: Final = "RunDeleted"
INVALID_SCHEDULE: Final = "InvalidSchedule"
INVALID_SPEC: Final = "InvalidSpec"


def _at(value: datetime | None) -> str:
    return format_time(value) if value is not None else "an earlier time"


def run_created(*, run: str, scheduled: datetime) -> EventSpec:
    return EventSpec("Normal", RUN_CREATED, f"Created JobFlow {run} for {_at(scheduled)}")


def run_replaced(*, cancelled: str, run: str) -> EventSpec:
    return EventSpec(
        "Normal",
        RUN_REPLACED,
        f"Cancelled active JobFlow {cancelled} to start {run} (concurrencyPolicy Replace)",
    )


def run_name_taken(*, run: str) -> EventSpec:
    return EventSpec(
        "Warning",
        RUN_NAME_TAKEN,
        f"JobFlow {run} already exists and is not a run of this CronJobFlow: run not created",
    )


def run_deleted(*, run: str) -> EventSpec:
    return EventSpec("Normal", RUN_DELETED, f"Deleted finished JobFlow {run} (history limit)")


def invalid(*, schedule: bool, message: str) -> EventSpec:
    return EventSpec("Warning", INVALID_SCHEDULE if schedule else INVALID_SPEC, message)


def too_many_missed() -> EventSpec:
    return EventSpec(
        "Warning",
        TOO_MANY_MISSED_RUNS,
        f"More than {MAX_MISSED_TO_COUNT} schedule times were missed (controller down, or "
        "set startingDeadlineSeconds): only the latest one runs",
    )


def skip_event(
    decision: CronDecision, *, starting_deadline_seconds: int | None
) -> EventSpec | None:
    """The Event for a skipped schedule time (None when the decision skips nothing due)."""
    if decision.skipped == "ConcurrencyForbid":
        active = ", ".join(decision.active)
        return EventSpec(
            "Normal",
            RUN_SKIPPED,
            f"Not starting the run for {_at(decision.scheduled_time)}: JobFlow {active} is "
            "still active (concurrencyPolicy Forbid)",
        )
    if decision.skipped == "MissedDeadline":
        return EventSpec(
            "Warning",
            MISSED_SCHEDULE,
            f"Missed the run for {_at(decision.scheduled_time)}: more than "
            f"startingDeadlineSeconds ({starting_deadline_seconds}) late",
        )
    return None


class SkipMemo:
    """The last skip reported per CronJobFlow: (reason, schedule time)."""

    def __init__(self) -> None:
        self._last: dict[ObjectKey, tuple[str, datetime | None]] = {}

    def first(self, key: ObjectKey, *, reason: str, scheduled: datetime | None) -> bool:
        """True the first time ``(reason, scheduled)`` is seen in a row for ``key``."""
        if self._last.get(key) == (reason, scheduled):
            return False
        self._last[key] = (reason, scheduled)
        return True

    def forget(self, key: ObjectKey) -> None:
        """The skip ended (a run was created) or the CronJobFlow is gone."""
        self._last.pop(key, None)
