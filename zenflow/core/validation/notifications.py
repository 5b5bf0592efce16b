"""Checks of ``spec.notifications[]`` beyond their shape: unique names, exactly one sink, no
event listed twice."""

from __future__ import annotations

from collections.abc import Sequence

from zenflow.api.notification import Notification
from zenflow.core.validation.problems import Collector


def check_notifications(
    notifications: Sequence[Notification], *, path: str, out: Collector
) -> None:
    seen: set[str] = set()
    for i, notification in enumerate(notifications):
        at = f"{path}.notifications[{i}]"
        if notification.name in seen:
            out.error(f"{at}.name", f"duplicate notification name {notification.name!r}")
        seen.add(notification.name)
        sinks = [s for s in ("webhook", "slack") if getattr(notification, s) is not None]
        if len(sinks) != 1:
            got = " and ".join(sinks) if sinks else "none"
            out.error(at, f"exactly one sink is needed: webhook or slack (got {got})")
        events = list(notification.events)
        for event in sorted({e for e in events if events.count(e) > 1}):
            out.error(f"{at}.events", f"event {event} is listed twice")
