"""Step outputs (zenflow.core.planning.outputs): termination-message keys (default and renamed),
JSON values as compact text, JSONPath over the Job, and the problems reported when they are
missing; the termination message is read only from a pod the step's Job controls."""

from __future__ import annotations

from typing import Any

import pytest

from zenflow.api.jobflow import Step
from zenflow.core.planning.outputs import extract_outputs, json_path, termination_message

JOB = {"status": {"succeeded": 1}, "spec": {"template": {"spec": {"containers": [{"image": "i"}]}}}}


def _step(*outputs: dict[str, Any]) -> Step:
    return Step.model_validate({"name": "s", "run": {"image": "x"}, "outputs": list(outputs)})


@pytest.mark.parametrize(
    ("outputs", "message", "values", "problem"),
    [
        pytest.param([{"name": "a"}], '{"a": "x"}', {"a": "x"}, None, id="default-key"),
        pytest.param(
            [{"name": "a", "valueFrom": {"terminationMessage": {"key": "b"}}}],
            '{"b": 3}',
            {"a": "3"},
            None,
            id="renamed-key-number",
        ),
        pytest.param([{"name": "l"}], '{"l": ["p", 1]}', {"l": '["p", 1]'}, None, id="list"),
        pytest.param(
            [{"name": "a"}], None, {}, "the container wrote no termination message", id="none"
        ),
        pytest.param(
            [{"name": "a"}], "oops", {}, "the termination message is not JSON", id="not-json"
        ),
        pytest.param([{"name": "a"}], '{"b": 1}', {}, "output 'a' not found", id="missing"),
        pytest.param(
            [{"name": "n", "valueFrom": {"jsonPath": "{.status.succeeded}"}}],
            None,
            {"n": "1"},
            None,
            id="json-path",
        ),
    ],
)
def test_extract_outputs(
    outputs: list[dict[str, Any]], message: str | None, values: dict[str, str], problem: str | None
) -> None:
    assert extract_outputs(step=_step(*outputs), message=message, job=JOB) == (values, problem)


@pytest.mark.parametrize(
    ("path", "found", "value"),
    [
        pytest.param("{.spec.template.spec.containers[0].image}", True, "i", id="index"),
        pytest.param(".status.succeeded", True, 1, id="no-braces"),
        pytest.param("{.status.failed}", False, None, id="absent"),
        pytest.param("{.spec.template.spec.containers[3]}", False, None, id="out-of-range"),
    ],
)
def test_json_path(path: str, found: bool, value: object) -> None:
    assert json_path(JOB, path) == (found, value)


def test_outputs_are_capped_in_size() -> None:
    big = "x" * 900
    values, problem = extract_outputs(
        step=_step({"name": "a"}, {"name": "b"}), message=f'{{"a": "{big}", "b": "{big}"}}', job=JOB
    )
    assert values == {"a": big}
    assert problem is not None
    assert "'b' dropped" in problem


def _pod(
    uid: str, *, phase: str = "Succeeded", message: str | None = '{"a": "x"}'
) -> dict[str, Any]:
    terminated = {"exitCode": 0} if message is None else {"exitCode": 0, "message": message}
    return {
        "metadata": {
            "labels": {"job-name": "f-s-1"},
            "ownerReferences": [{"kind": "Job", "name": "f-s-1", "uid": uid, "controller": True}],
        },
        "status": {"phase": phase, "containerStatuses": [{"state": {"terminated": terminated}}]},
    }


def test_outputs_are_read_only_from_a_pod_the_job_controls() -> None:
    """A pod labelled job-name=<job> by anyone else (here: owned by another uid, or by nobody)
    is never read, even when it comes first and succeeded."""
    spoofed = _pod("someone-else", message='{"a": "forged"}')
    unowned = {**_pod("x", message='{"a": "forged"}'), "metadata": {"labels": {"job-name": "j"}}}
    pods = [spoofed, unowned, _pod("job-uid", phase="Failed"), _pod("job-uid")]
    assert termination_message(pods, job_uid="job-uid") == '{"a": "x"}'
    assert termination_message([spoofed, unowned], job_uid="job-uid") is None
    assert termination_message([_pod("job-uid", message=None)], job_uid="job-uid") == ""
