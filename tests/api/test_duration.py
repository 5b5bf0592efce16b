"""Tests of Go-style durations (zenflow.api.duration).

Aspects: parsing every unit and combinations, rejecting malformed and negative durations,
formatting, and the CRD pattern accepting exactly what the parser accepts.
"""

from __future__ import annotations

import re

import pytest

from zenflow.api.duration import (
    DURATION_PATTERN,
    DurationError,
    format_duration,
    parse_duration,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("0", 0.0, id="zero"),
        pytest.param("10s", 10.0, id="seconds"),
        pytest.param("1m30s", 90.0, id="combined"),
        pytest.param("1.5h", 5400.0, id="fraction"),
        pytest.param("250ms", 0.25, id="ms"),
        pytest.param("2h45m", 9900.0, id="hours-minutes"),
        pytest.param("1000us", 0.001, id="us"),
        pytest.param("5000000ns", 0.005, id="ns"),
    ],
)
def test_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)
    assert re.match(DURATION_PATTERN, text)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("10", id="no-unit"),
        pytest.param("10 s", id="space"),
        pytest.param("-5s", id="negative"),
        pytest.param("10x", id="bad-unit"),
        pytest.param("s", id="no-number"),
    ],
)
def test_reject(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)
    assert not re.match(DURATION_PATTERN, text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(0, "0s", id="zero"),
        pytest.param(90, "1m30s", id="minutes"),
        pytest.param(3600, "1h", id="hour"),
        pytest.param(1.5, "1.5s", id="fraction"),
    ],
)
def test_format(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)
