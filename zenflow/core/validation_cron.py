"""Checks of a CronJobFlow's schedule (croniter) and time zone (zoneinfo)."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime
from typing import Final

from croniter import CroniterError, croniter

from zenflow.core.validation_problems import Collector

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


def fires(expression: str) -> bool:
    """False when the five-field ``expression`` matches no date at all, e.g. "0 0 31 2 *"
    (February 31st) or "0 0 30 2 *". Bounded (croniter stops after 50 years) and fast (~ms)."""
    try:
        croniter(expression, _FIRES_FROM).get_next(datetime)
    except CroniterError:
        return False
    return True


def normalize_schedule(schedule: str) -> str:
    """The five-field form of ``schedule`` (macros like @daily expanded)."""
    text = schedule.strip()
    return _MACROS.get(text.lower(), text)


def check_schedule(schedule: str, time_zone: str | None, *, path: str, out: Collector) -> None:
    text = normalize_schedule(schedule)
    if "TZ=" in text or "CRON_TZ=" in text:
        out.error(f"{path}.schedule", "set the time zone in timeZone, not in the schedule")
    elif len(text.split()) != 5:
        out.error(
            f"{path}.schedule",
            f'invalid cron schedule {schedule!r}: expected 5 fields "MIN HOUR DOM MON DOW" '
            "or a macro like @daily",
        )
    elif not croniter.is_valid(text):
        out.error(f"{path}.schedule", f"invalid cron schedule {schedule!r}")
    elif not fires(text):
        out.error(
            f"{path}.schedule",
            f"cron schedule {schedule!r} never fires: no date matches its day of month and "
            "month (e.g. February 30th)",
        )
    if time_zone is not None:
        try:
            zoneinfo.ZoneInfo(time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            out.error(f"{path}.timeZone", f"unknown time zone {time_zone!r} (use an IANA name)")
