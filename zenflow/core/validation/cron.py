"""Checks of a CronJobFlow's schedule (croniter) and time zone (zoneinfo)."""

from __future__ import annotations

import zoneinfo

from croniter import croniter

from zenflow.core.schedule import fires, normalize_schedule
from zenflow.core.validation.problems import Collector


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
