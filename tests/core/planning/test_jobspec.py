"""A step's Job manifest (zenflow.core.planning.jobspec): the run shorthand (command, script, args,
env, workingDir), a full template's own fields kept (backoffLimit, podFailurePolicy,
restartPolicy, labels) while zenflow's labels win, {{ }} substitution, and a missing reference."""

from __future__ import annotations

from typing import Any

import pytest

from tests.core.planning.driver import make_flow
from zenflow.core.planning.jobspec import build_job, template_context
from zenflow.core.templating import TemplateError


def _build(step: dict[str, Any], **spec: Any) -> dict[str, Any]:
    flow = make_flow(step, **spec)
    st = flow.spec.steps[0]
    context = template_context(flow=flow, step=st, attempt=1, outputs={}, phases={})
    return build_job(flow=flow, step=st, attempt=1, retry_count=0, context=context)


@pytest.mark.parametrize(
    ("run", "container"),
    [
        pytest.param(
            {"image": "i", "command": ["echo"], "args": ["hi"]},
            {"name": "main", "image": "i", "command": ["echo"], "args": ["hi"]},
            id="command-args",
        ),
        pytest.param(
            {"image": "i", "script": "echo {{ flow.name }}", "workingDir": "/w"},
            {"name": "main", "image": "i", "command": ["sh", "-c", "echo f"], "workingDir": "/w"},
            id="script",
        ),
        pytest.param(
            {"image": "i", "env": [{"name": "A", "value": "{{ step.attempt }}"}]},
            {"name": "main", "image": "i", "env": [{"name": "A", "value": "1"}]},
            id="env",
        ),
    ],
)
def test_run_shorthand(run: dict[str, Any], container: dict[str, Any]) -> None:
    job = _build({"name": "s", "run": run})
    pod = job["spec"]["template"]["spec"]
    assert pod["containers"] == [container]
    assert pod["restartPolicy"] == "Never"


def test_template_fields_are_kept_and_our_labels_win() -> None:
    template = {
        "metadata": {"labels": {"jobflow": "spoofed", "team": "t"}},
        "spec": {
            "backoffLimit": 3,
            "podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": []}]},
            "template": {
                "metadata": {"labels": {"app": "x"}},
                "spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "i"}]},
            },
        },
    }
    job = _build(
        {"name": "s", "template": template},
        executionPolicy={"podFailurePolicy": {"rules": []}},
    )
    assert job["metadata"]["labels"]["jobflow"] == "f"
    assert job["metadata"]["labels"]["team"] == "t"
    assert job["spec"]["backoffLimit"] == 3
    assert job["spec"]["podFailurePolicy"]["rules"][0]["action"] == "Ignore"
    pod = job["spec"]["template"]
    assert pod["spec"]["restartPolicy"] == "OnFailure"
    assert pod["metadata"]["labels"]["app"] == "x"
    assert pod["metadata"]["labels"]["workflow.zen.io/step"] == "s"


def test_a_reference_without_a_value_raises() -> None:
    with pytest.raises(TemplateError):
        _build({"name": "s", "run": {"image": "{{ steps.nope.outputs.x }}"}})


def test_long_flow_names_give_valid_label_values() -> None:
    from zenflow.core.planning.jobspec import label_value

    assert label_value("short") == "short"
    long = "a" * 60 + "." + "b" * 100
    value = label_value(long)
    assert len(value) <= 63
    assert value == label_value(long)
    assert value[0].isalnum()
    assert value[-1].isalnum()
