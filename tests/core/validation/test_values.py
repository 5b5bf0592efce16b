"""Checks of a CronJobFlow's schedule, time zone and name (zenflow.core.validation.values, and the
CronJobFlow part of zenflow.core.validation.validator):

- ``fires``: schedules that match no date (February 30th/31st, April 31st) never fire; rare but
  real ones (February 29th, the fifth Monday of February, "L", a day-of-month OR'd with a
  weekday) do, and the bounded search stays fast;
- ``check_schedule``: a never-firing schedule is one error naming spec.schedule, macros are
  expanded first, a malformed one is reported once (not also as "never fires");
- the name limit: 52 characters is accepted and its longest run name is a 63-character DNS
  label; 53 is an error naming metadata.name with the maximum and why;
- the template is checked by the JobFlow validator (its errors are prefixed with its path).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.core.planning.flows import cron, job
from zenflow.api.naming import is_dns1123_label
from zenflow.core.schedule import MAX_CRONJOBFLOW_NAME, MAX_RUN_NAME, fires, run_name
from zenflow.core.validation.problems import Collector
from zenflow.core.validation.validator import validate_object
from zenflow.core.validation.values import check_schedule


def errors_of(obj: dict[str, Any]) -> list[str]:
    return [str(p) for p in validate_object(obj).errors]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param("0 0 31 2 *", False, id="february-31"),
        pytest.param("0 0 30 2 *", False, id="february-30"),
        pytest.param("0 0 30,31 2 *", False, id="february-30-and-31"),
        pytest.param("0 0 31 4,6,9,11 *", False, id="31st-of-30-day-months"),
        pytest.param("0 0 29 2 *", True, id="february-29-leap-years"),
        pytest.param("0 0 * 2 1#5", True, id="fifth-monday-of-february"),
        pytest.param("0 0 L 2 *", True, id="last-day-of-february"),
        pytest.param("0 0 31 2 1", True, id="day-of-month-or-weekday"),
        pytest.param("0 0 31 */2 *", True, id="some-months-have-31"),
        pytest.param("* * * * *", True, id="every-minute"),
    ],
)
def test_fires(expression: str, expected: bool) -> None:
    started = time.perf_counter()
    assert fires(expression) is expected
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        pytest.param(
            "0 0 31 2 *",
            "spec.schedule: cron schedule '0 0 31 2 *' never fires: no date matches",
            id="february-31",
        ),
        pytest.param(
            "0 0 30 2 *",
            "spec.schedule: cron schedule '0 0 30 2 *' never fires: no date matches",
            id="february-30",
        ),
        pytest.param("61 * * * *", "spec.schedule: invalid cron schedule '61 * * * *'", id="bad"),
    ],
)
def test_check_schedule_reports_one_error(schedule: str, expected: str) -> None:
    out = Collector()
    check_schedule(schedule, None, path="spec", out=out)
    errors = [str(p) for p in out.errors]
    assert len(errors) == 1, errors
    assert errors[0].startswith(expected), errors


@pytest.mark.parametrize("schedule", ["@yearly", "@monthly", "0 0 29 2 *", "0 2 * * *"])
def test_schedules_that_fire_are_accepted(schedule: str) -> None:
    out = Collector()
    check_schedule(schedule, "Europe/Paris", path="spec", out=out)
    assert out.errors == []


def test_a_never_firing_schedule_fails_the_whole_object() -> None:
    assert errors_of(cron("0 0 31 2 *")) == [
        "spec.schedule: cron schedule '0 0 31 2 *' never fires: no date matches its day of "
        "month and month (e.g. February 30th)"
    ]


def test_the_name_limit_matches_the_run_names() -> None:
    assert MAX_CRONJOBFLOW_NAME == 52
    longest = "x" * MAX_CRONJOBFLOW_NAME
    # The last minute a datetime can hold: 10 digits of unix minutes.
    far = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
    assert len(run_name(longest, far)) == MAX_RUN_NAME
    assert is_dns1123_label(run_name(longest, far))
    assert is_dns1123_label(run_name(longest, datetime(2026, 11, 23, tzinfo=UTC)))
    assert errors_of(cron() | {"metadata": {"name": longest}}) == []


def test_a_name_one_character_too_long_names_the_maximum() -> None:
    assert errors_of(cron() | {"metadata": {"name": "x" * 53}}) == [
        "metadata.name: must be at most 52 characters (has 53): its runs are named "
        "<name>-<unix minutes>, at most 63 characters"
    ]


def test_the_template_is_checked_as_a_jobflow() -> None:
    broken = cron(jobFlowTemplate={"spec": {"steps": [job("a", "b"), job("b", "a")]}})
    assert errors_of(broken) == [
        "spec.jobFlowTemplate.spec.steps[0].dependencies: dependency cycle: a -> b -> a"
    ]
    # The same spec as a JobFlow gives the same message, without the template's prefix.
    as_jobflow = {
        "apiVersion": "workflow.zen.io/v1alpha1",
        "kind": "JobFlow",
        "metadata": {"name": "f"},
        "spec": broken["spec"]["jobFlowTemplate"]["spec"],
    }
    assert errors_of(as_jobflow) == ["spec.steps[0].dependencies: dependency cycle: a -> b -> a"]
