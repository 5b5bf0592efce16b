"""Warnings for params and outputs pasted into shell scripts (zenflow.core.validation.shell).

Aspects: ``run.script``, ``sh -c``/``bash -ec`` in run.command and in template containers (the
script split across command and args too) warn with the script's field path; values passed
through ``inputs`` (env), literal matrix values, flow/step fields and non-shell programs do not;
a matrix over an output does; many places give the first 20 and one line saying there are more.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.core.planning.flows import flow, job, template
from zenflow.core.validation.shell import MAX_WARNINGS
from zenflow.core.validation.validator import validate_object

OUTPUT = "{{ steps.a.outputs.n }}"


def warnings(*steps: dict[str, Any], **spec: Any) -> list[str]:
    report = validate_object(flow(job("a", outputs=[{"name": "n"}]), *steps, **spec))
    assert report.errors == ()
    return [str(w) for w in report.warnings]


def advice(refs: str) -> str:
    return (
        f"{refs} is pasted into a shell script: a value holding quotes, ';' or '$(' runs as "
        'shell code; pass it as an input (an environment variable) and use "$NAME"'
    )


@pytest.mark.parametrize(
    ("step", "path"),
    [
        pytest.param(
            job("b", "a", run={"image": "busybox", "script": f"echo {OUTPUT}"}),
            "spec.steps[1].run.script",
            id="run-script",
        ),
        pytest.param(
            job("b", "a", run={"image": "busybox", "command": ["sh", "-c", f"echo {OUTPUT}"]}),
            "spec.steps[1].run.command[2]",
            id="run-sh-c",
        ),
        pytest.param(
            job(
                "b",
                "a",
                run=None,
                template=template(
                    containers=[
                        {
                            "name": "main",
                            "image": "busybox",
                            "command": ["/bin/bash", "-ec"],
                            "args": [f"test {OUTPUT} = 1"],
                        }
                    ]
                ),
            ),
            "spec.steps[1].template.spec.template.spec.containers[0].args[0]",
            id="template-bash-ec-in-args",
        ),
    ],
)
def test_an_output_in_a_shell_script_warns_at_the_script(step: dict[str, Any], path: str) -> None:
    assert warnings(step) == [f"{path}: {advice(OUTPUT)}"]


def test_a_param_warns_too_each_reference_named_once() -> None:
    script = "echo {{ params.p }} {{ params.p }} {{ steps.a.outputs.n }}"
    found = warnings(
        job("b", "a", run={"image": "busybox", "script": script}),
        params=[{"name": "p", "default": "x"}],
    )
    assert found == [f"spec.steps[1].run.script: {advice('{{ params.p }}, ' + OUTPUT)}"]


@pytest.mark.parametrize(
    "step",
    [
        pytest.param(
            job(
                "b",
                "a",
                inputs=[{"name": "N", "value": OUTPUT}],
                run={"image": "busybox", "script": 'echo "$N"'},
            ),
            id="through-env",
        ),
        pytest.param(
            job("b", "a", run={"image": "busybox", "command": ["echo", OUTPUT]}),
            id="no-shell",
        ),
        pytest.param(
            job(
                "b", "a", run={"image": "busybox", "script": "echo {{ flow.name }}-{{ step.name }}"}
            ),
            id="flow-and-step-fields",
        ),
        pytest.param(
            job(
                "b",
                "a",
                matrix={"values": {"k": ["x", "y"]}},
                run={"image": "busybox", "script": "echo {{ matrix.k }}"},
            ),
            id="literal-matrix-values",
        ),
    ],
)
def test_safe_uses_do_not_warn(step: dict[str, Any]) -> None:
    assert warnings(step) == []


def test_a_matrix_over_an_output_warns() -> None:
    step = job(
        "b",
        "a",
        matrix={"from": {"item": OUTPUT}},
        run={"image": "busybox", "script": "process {{ matrix.item }}"},
    )
    assert warnings(step) == [f"spec.steps[1].run.script: {advice('{{ matrix.item }}')}"]


def test_many_places_give_the_first_ones_and_a_line_saying_there_are_more() -> None:
    steps = [
        job(f"s{i}", "a", run={"image": "busybox", "script": f"echo {OUTPUT}"}) for i in range(30)
    ]
    found = warnings(*steps)
    assert len(found) == MAX_WARNINGS + 1
    assert found[0].startswith("spec.steps[1].run.script: ")
    assert found[-1] == "spec.steps: more steps paste values into shell scripts"
