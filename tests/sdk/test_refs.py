"""References rendered as the API reads them.

Aspects: ``{{ }}`` templates of params, outputs, phases and matrix keys (also through
f-strings); CEL operands for identifier and dashed step names; comparisons and literals;
``Cel`` combinators; the expressions are accepted by the shared validator."""

from __future__ import annotations

import pytest

from zenflow.sdk import Cel, Flow, OutputRef, ParamRef, StepRef, literal, matrix_value


def test_templates_render_in_f_strings() -> None:
    assert f"x={ParamRef('env')}" == "x={{ params.env }}"
    assert str(OutputRef("split", "parts")) == "{{ steps.split.outputs.parts }}"
    assert str(StepRef("main-process").phase) == "{{ steps.main-process.phase }}"
    assert str(StepRef("a").outputs["rows"]) == "{{ steps.a.outputs.rows }}"
    assert str(StepRef("a").output("rows")) == "{{ steps.a.outputs.rows }}"
    assert f"{matrix_value('region')}" == "{{ matrix.region }}"
    assert str(StepRef("build")) == "build"


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        pytest.param(StepRef("build").succeeded, 'steps.build.phase == "Succeeded"', id="plain"),
        pytest.param(
            StepRef("main-process").failed, 'steps["main-process"].phase == "Failed"', id="dashed"
        ),
        pytest.param(StepRef("a").skipped, 'steps.a.phase == "Skipped"', id="skipped"),
        pytest.param(ParamRef("mode").eq("stream"), 'params.mode == "stream"', id="param-eq"),
        pytest.param(ParamRef("n").ne(3), "params.n != 3", id="param-ne-int"),
        pytest.param(OutputRef("a", "ok").eq(True), "steps.a.outputs.ok == true", id="output-bool"),
        pytest.param(
            OutputRef("a-b", "my-key").eq("x"),
            'steps["a-b"].outputs["my-key"] == "x"',
            id="dashed-output",
        ),
        pytest.param(ParamRef("env").is_in(["dev", "qa"]), 'params.env in ["dev", "qa"]', id="in"),
    ],
)
def test_cel_operands(expr: Cel, expected: str) -> None:
    assert expr == expected
    assert isinstance(expr, Cel)


def test_cel_combinators_and_literals() -> None:
    a, b = Cel("x == 1"), Cel("y == 2")
    assert a & b == "(x == 1) && (y == 2)"
    assert a | b == "(x == 1) || (y == 2)"
    assert ~a == "!(x == 1)"
    assert literal('say "hi"') == '"say \\"hi\\""'
    assert literal(1.5) == "1.5"
    assert literal(False) == "false"


def test_expressions_pass_the_shared_validator() -> None:
    flow = Flow("refs")
    mode = flow.param("mode", default="a")
    first = flow.step("first-step", image="busybox", command=["true"], outputs=["n"])
    when = (first.succeeded & mode.is_in(["a", "b"])) | ~first.outputs.n.eq("0")
    flow.step(
        "second", image="busybox", command=["echo", str(first.phase)], after=[first], when=when
    )
    report = flow.validate()
    assert report.ok, report.summary()
