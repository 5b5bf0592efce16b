"""Tests of the per-step checks (zenflow.core.validation.steps).

Aspects: the fast accept of plain steps agrees with the full per-step check - whenever it accepts
a random step (built from valid and invalid pieces of a Job or Manual step), the full check
finds no problem; and the plain steps (a valid ``run``, or a valid Job ``template``, with
nothing else to check) are the ones it accepts.
"""

from __future__ import annotations

from typing import Any

import pydantic
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from zenflow.api.jobflow import Step
from zenflow.core.validation.problems import Collector
from zenflow.core.validation.steps import _check_step_fields, _plain_step

POD = {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]}
TEMPLATES = [
    {"spec": {"template": {"spec": POD}}},
    {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "spec": {"backoffLimit": 2, "template": {"spec": POD}},
    },
    {"spec": {"template": {"spec": {**POD, "restartPolicy": "Always"}}}},
    {"spec": {"template": {"spec": {"containers": [{"name": "Bad", "image": "busybox"}]}}}},
    {"metadata": {"name": "mine"}, "spec": {"template": {"spec": POD}}},
    {"spec": {"template": {"spec": {**POD, "restartPolicy": "OnFailure"}}}},
]
RUNS = [
    {"image": "busybox", "command": ["echo", "hi"]},
    {"image": "  "},
    {"image": "busybox", "script": "echo hi"},
    {"image": "busybox", "command": ["echo"], "script": "echo hi"},
    {"image": "busybox", "env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]},
]

steps = st.fixed_dictionaries(
    {"name": st.just("s")},
    optional={
        "type": st.sampled_from(["Job", "Manual"]),
        "message": st.just("approve me"),
        "template": st.sampled_from(TEMPLATES),
        "run": st.sampled_from(RUNS),
        "retryPolicy": st.sampled_from(
            [{"limit": 2}, {"limit": 0, "backoff": {"duration": "5s", "maxDuration": "1s"}}]
        ),
        "timeoutSeconds": st.just(30),
        "outputs": st.sampled_from(
            [[{"name": "ok"}], [{"name": "dup"}, {"name": "dup"}], [{"name": "9bad"}]]
        ),
        "metadata": st.sampled_from([{"labels": {"a": "b"}}, {"labels": {"a": "x" * 64}}]),
    },
)


def full_check(step: Step, *, pfp: bool) -> Collector:
    out = Collector()
    _check_step_fields(step, path="spec.steps[0]", pod_failure_policy=pfp, out=out)
    return out


@settings(max_examples=400, deadline=None)
@given(steps, st.booleans())
def test_fast_accept_agrees_with_the_full_check(raw: dict[str, Any], pfp: bool) -> None:
    try:
        step = Step.model_validate(raw)
    except pydantic.ValidationError:
        assume(False)
        raise
    if _plain_step(step, pod_failure_policy=pfp):
        full = full_check(step, pfp=pfp)
        assert (full.errors, full.warnings) == ([], [])


def test_plain_run_and_template_steps_are_accepted_fast() -> None:
    plain: list[dict[str, Any]] = [
        {"name": "a", "run": RUNS[0]},
        {"name": "b", "template": TEMPLATES[0], "outputs": [{"name": "ok"}]},
        {"name": "c", "template": TEMPLATES[1], "timeoutSeconds": 30},
    ]
    for raw in plain:
        assert _plain_step(Step.model_validate(raw), pod_failure_policy=False), raw
    not_plain: list[dict[str, Any]] = [
        {"name": "d", "template": TEMPLATES[2]},  # restartPolicy Always: the full check says so
        {"name": "e", "template": TEMPLATES[0], "run": RUNS[0]},
        {"name": "f", "type": "Manual"},
        {"name": "g", "run": RUNS[2]},  # a script: check_run checks it against command and args
    ]
    for raw in not_plain:
        assert not _plain_step(Step.model_validate(raw), pod_failure_policy=False), raw
