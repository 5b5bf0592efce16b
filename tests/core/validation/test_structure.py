"""Tests of structural validation (zenflow.core.validation.structure): pydantic errors become
Problems with Kubernetes field paths and plain messages.

Aspects: unknown fields with "did you mean"; missing required fields; wrong types; enum values;
bounds; union members merged into one problem at the real path; format_path.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.core.planning.flows import cron, flow, job
from zenflow.core.validation.structure import format_path
from zenflow.core.validation.validator import validate_object


def errors_of(obj: dict[str, Any]) -> list[str]:
    return [str(p) for p in validate_object(obj).errors]


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(
            flow(job("a"), job("b", dependecies=["a"])),
            'spec.steps[1].dependecies: unknown field "dependecies" (did you mean "dependencies"?)',
            id="typo",
        ),
        pytest.param(
            flow(job("a"), finally_=[job("z", retryPolicy={"limit": 1, "bakoff": {}})]),
            'spec.finally[0].retryPolicy.bakoff: unknown field "bakoff" (did you mean "backoff"?)',
            id="nested-typo",
        ),
        pytest.param(
            flow(job("a", run={"command": ["x"]})),
            "spec.steps[0].run.image: required field is missing",
            id="missing",
        ),
        pytest.param(
            flow(job("a"), executionPolicy={"concurrencyPolicy": "Sometimes"}),
            "spec.executionPolicy.concurrencyPolicy: must be one of 'Allow', 'Forbid' or "
            "'Replace', got 'Sometimes'",
            id="enum",
        ),
        pytest.param(
            flow(job("a", type="Approval")),
            "spec.steps[0].type: must be one of 'Job' or 'Manual', got 'Approval'",
            id="step-type",
        ),
        pytest.param(
            flow(job("a", retryPolicy={"limit": -1})),
            "spec.steps[0].retryPolicy.limit: must be >= 0, got -1",
            id="negative",
        ),
        pytest.param(
            flow(job("a", timeoutSeconds="ten")),
            "spec.steps[0].timeoutSeconds: must be an integer, got 'ten'",
            id="int-type",
        ),
        pytest.param(
            flow(job("a", continueOnFailure="maybe")),
            "spec.steps[0].continueOnFailure: must be true or false, got 'maybe'",
            id="bool",
        ),
        pytest.param(
            flow(job("a", dependencies="b")),
            "spec.steps[0].dependencies: must be a list, got string",
            id="list",
        ),
        pytest.param(
            flow(job("a", run="echo")),
            "spec.steps[0].run: must be an object, got string",
            id="object",
        ),
        pytest.param(
            flow(job("a", matrix={"values": {"k": [1, {"x": 1}]}})),
            "spec.steps[0].matrix.values.k[1]: must be a string, got object or must be an "
            "integer, got {'x': 1}",
            id="union",
        ),
        pytest.param(
            {"apiVersion": "workflow.zen.io/v1alpha1", "kind": "JobFlow", "metadata": {}},
            "spec: required field is missing",
            id="no-spec",
        ),
        pytest.param(
            cron(schedule=None),
            "spec.schedule: must be a string, got null",
            id="cron-null",
        ),
        pytest.param(
            flow(job("a"), params=[{"name": "p", "default": [1]}]),
            "spec.params[0].default: must be a string, got list",
            id="param-value",
        ),
    ],
)
def test_structural_errors_have_field_paths(obj: dict[str, Any], expected: str) -> None:
    found = errors_of(obj)
    assert expected in found, found


def test_numbers_are_accepted_as_param_values() -> None:
    assert validate_object(
        flow(
            job("a", run={"image": "b", "command": ["{{ params.n }}{{ params.f }}"]}),
            params=[{"name": "n", "default": 3}, {"name": "f", "value": True}],
        )
    ).ok


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        pytest.param(("spec", "steps", 3, "dependencies", 0), "spec.steps[3].dependencies[0]"),
        pytest.param(("spec",), "spec"),
        pytest.param((), ""),
        pytest.param((0, "name"), "[0].name"),
    ],
)
def test_format_path(parts: tuple[str | int, ...], expected: str) -> None:
    assert format_path(parts) == expected
