"""Tests of derived names (zenflow.api.naming).

Aspects: readable Job names when they fit; hashed, truncated names otherwise; determinism;
DNS-1123 validity and the 63-character limit for any input (property test); uniqueness across
attempts and shards of one flow (property test); step-name rules.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zenflow.api.limits import MAX_NAME_LENGTH, MAX_STEP_NAME_LENGTH
from zenflow.api.naming import is_dns1123_label, job_name, step_name_problem


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param({"flow": "etl", "step": "extract", "attempt": 1}, "etl-extract-1", id="plain"),
        pytest.param(
            {"flow": "etl", "step": "map", "attempt": 2, "shard": 3}, "etl-map-3-2", id="shard"
        ),
    ],
)
def test_readable_name_when_it_fits(kwargs: dict[str, object], expected: str) -> None:
    assert job_name(**kwargs) == expected  # type: ignore[arg-type]


def test_long_names_are_truncated_with_a_hash_and_stay_distinct() -> None:
    flow = "a-very-long-flow-name-that-goes-on-and-on-for-ever"
    first = job_name(flow=flow, step="step-with-long-name", attempt=1)
    second = job_name(flow=flow, step="step-with-long-name", attempt=2)
    assert len(first) <= MAX_NAME_LENGTH
    assert is_dns1123_label(first)
    assert first != second
    assert first.startswith("a-very-long-flow-name")
    assert first == job_name(flow=flow, step="step-with-long-name", attempt=1)


def test_flow_names_with_dots_get_a_valid_label() -> None:
    name = job_name(flow="team.etl", step="load", attempt=1)
    assert is_dns1123_label(name)
    assert name.startswith("team-etl-load-1-")


def test_negative_attempt_is_refused() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        job_name(flow="f", step="s", attempt=-1)


flow_names = st.from_regex(r"[a-z0-9]([-a-z0-9.]{0,200}[a-z0-9])?", fullmatch=True)
step_names = st.from_regex(r"[a-z]([-a-z0-9]{0,38}[a-z0-9])?", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(flow_names, step_names, st.integers(0, 10_000), st.none() | st.integers(0, 500))
def test_every_job_name_is_a_dns_label(
    flow: str, step: str, attempt: int, shard: int | None
) -> None:
    name = job_name(flow=flow, step=step, attempt=attempt, shard=shard)
    assert is_dns1123_label(name), name
    assert name == job_name(flow=flow, step=step, attempt=attempt, shard=shard)


@settings(max_examples=100, deadline=None)
@given(flow_names, step_names)
def test_names_are_unique_across_attempts_and_shards(flow: str, step: str) -> None:
    names = {
        job_name(flow=flow, step=step, attempt=a, shard=s)
        for a in range(1, 6)
        for s in (None, 0, 1, 2, 10)
    }
    assert len(names) == 25


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        pytest.param("extract", None, id="ok"),
        pytest.param("map-1", None, id="digits"),
        pytest.param("", "must not be empty", id="empty"),
        pytest.param("Build", "lowercase", id="uppercase"),
        pytest.param("1st", "start with a letter", id="leading-digit"),
        pytest.param("a_b", "lowercase letters, digits and '-'", id="underscore"),
        pytest.param("trailing-", "end with a letter or digit", id="trailing-dash"),
        pytest.param("x" * (MAX_STEP_NAME_LENGTH + 1), "at most 40", id="too-long"),
    ],
)
def test_step_name_rules(name: str, problem: str | None) -> None:
    found = step_name_problem(name)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found
