"""How zenflow reads and writes plain values in its objects: Kubernetes timestamps (both ways)
and clipped messages. Shared by the core, the controller, the plugin and the views, so every
reader parses a timestamp the same way and every writer keeps messages within the status
limits."""

from __future__ import annotations

from datetime import UTC, datetime

from zenflow.api.limits import MAX_STEP_MESSAGE


def clip(text: str | None) -> str | None:
    """Cap a message at ``MAX_STEP_MESSAGE`` characters so a big flow's status stays compact."""
    if text is None or len(text) <= MAX_STEP_MESSAGE:
        return text
    return text[: MAX_STEP_MESSAGE - 1] + "…"


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` and whole seconds, as Kubernetes writes ``metav1.Time``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    elif value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # Formatted by hand: strftime costs twice as much, and this runs for every time in every
    # status written and Event recorded.
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
        f"T{value.hour:02d}:{value.minute:02d}:{value.second:02d}Z"
    )


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 timestamp as Kubernetes writes it (always timezone-aware), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
