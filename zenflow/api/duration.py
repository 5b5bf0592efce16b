"""Go-style duration strings (``"10s"``, ``"1m30s"``, ``"250ms"``, ``"1.5h"``) as the API uses them
for backoff durations, parsed to seconds.

Only non-negative durations exist in the API; a bare ``"0"`` is allowed as in Go.
"""

from __future__ import annotations

import re
from typing import Final

_UNIT_SECONDS: Final = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_PART: Final = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
# The same language as a regular expression for the CRD schema (RE2; ASCII units only).
DURATION_PATTERN: Final = r"^(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|ms|s|m|h))+)$"


class DurationError(ValueError):
    """The text is not a Go duration."""


def parse_duration(text: str) -> float:
    """Seconds in a Go duration string; raises DurationError with a message saying why not."""
    if text == "0":
        return 0.0
    if not text:
        raise DurationError("empty duration")
    if text.startswith("-"):
        raise DurationError(f"negative duration {text!r} is not allowed")
    pos = 0
    total = 0.0
    while pos < len(text):
        match = _PART.match(text, pos)
        if match is None:
            raise DurationError(
                f"invalid duration {text!r}: expected numbers with units ns, us, ms, s, m or h"
                ' (like "10s", "1m30s")'
            )
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    return total


def format_duration(seconds: float) -> str:
    """A compact Go duration for a number of seconds (``90`` → ``"1m30s"``)."""
    if seconds <= 0:
        return "0s"
    whole = int(seconds)
    frac = seconds - whole
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    out = ""
    if hours:
        out += f"{hours}h"
    if minutes:
        out += f"{minutes}m"
    if secs or frac or not out:
        if frac:
            out += f"{secs + frac:.3f}".rstrip("0").rstrip(".") + "s"
        else:
            out += f"{secs}s"
    return out
