"""Tests of Job template checks (zenflow.core.validation.template).

Aspects: the fast accept agrees with the full check - whenever it accepts a random template
(built from valid and invalid pieces), the full check finds no problem, and every template the
full check finds clean without init containers or env is accepted fast; env entries.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from zenflow.core.validation import template as validation_template
from zenflow.core.validation.problems import Collector
from zenflow.core.validation.template import check_env, check_job_template

containers = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from(["main", "side", "Bad_Name", "", 3]),
        "image": st.sampled_from(["busybox", "", "  ", None, 1]),
        "command": st.sampled_from([["echo", "hi"], "echo", [1], [], None]),
        "args": st.sampled_from([["x"], ["a", 2], None]),
        "env": st.sampled_from([[{"name": "A", "value": "1"}], [{"value": 2}], "x"]),
    },
)
pod_specs = st.fixed_dictionaries(
    {},
    optional={
        "restartPolicy": st.sampled_from(["Never", "OnFailure", "Always", None]),
        "containers": st.one_of(st.lists(containers, max_size=3), st.just("x")),
        "initContainers": st.lists(containers, max_size=1),
    },
)
job_specs = st.fixed_dictionaries(
    {},
    optional={
        "template": st.one_of(st.fixed_dictionaries({}, optional={"spec": pod_specs}), st.just(1)),
        "backoffLimit": st.sampled_from([0, 3, -1, True, "2"]),
        "activeDeadlineSeconds": st.sampled_from([1, 0, 60]),
        "selector": st.just({}),
        "podFailurePolicy": st.just({"rules": []}),
    },
)
templates = st.fixed_dictionaries(
    {},
    optional={
        "apiVersion": st.sampled_from(["batch/v1", "v1"]),
        "kind": st.sampled_from(["Job", "Pod"]),
        "metadata": st.sampled_from([{}, {"labels": {"a": "b"}}, {"name": "x"}, "m"]),
        "spec": st.one_of(job_specs, st.just("s")),
    },
)


def full_check(template: dict[str, Any], *, pfp: bool) -> Collector:
    out = Collector()
    with mock.patch.object(validation_template, "template_is_plainly_valid", return_value=False):
        check_job_template(template, path="t", pod_failure_policy=pfp, out=out)
    return out


@settings(max_examples=500, deadline=None)
@given(templates, st.booleans())
def test_fast_accept_agrees_with_the_full_check(template: dict[str, Any], pfp: bool) -> None:
    fast = validation_template.template_is_plainly_valid(template, pod_failure_policy=pfp)
    full = full_check(template, pfp=pfp)
    if fast:
        assert full.errors == []
        assert full.warnings == []
    pod = ((template.get("spec") or {}) if isinstance(template.get("spec"), dict) else {}).get(
        "template"
    )
    pod_spec = pod.get("spec") if isinstance(pod, dict) else None
    simple = isinstance(pod_spec, dict) and "initContainers" not in pod_spec
    if simple and isinstance(pod_spec, dict):
        simple = all(
            isinstance(c, dict) and c.get("env") is None for c in pod_spec.get("containers") or []
        )
    if simple and not full.errors and not full.warnings:
        assert fast


def test_env_entries() -> None:
    out = Collector()
    check_env(
        [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}, {"value": "x"}, "bad"],
        path="e",
        out=out,
    )
    assert [str(p) for p in out.errors] == [
        "e[2].name: required: the variable's name",
        "e[3]: must be an object with name and value or valueFrom",
    ]
    assert [str(p) for p in out.warnings] == [
        "e[1].name: variable 'A' is set twice; the last one wins"
    ]
