"""Tests of CEL `when` expressions (zenflow.core.expressions).

Aspects: compile errors become ExpressionError; references to steps (dot and index forms),
params and flow fields are listed, macro variables are not taken for unknown variables;
evaluation over params/steps/flow; non-bool results and evaluation errors raise ExpressionError;
compilation is cached; nesting (brackets and parse-tree depth) is bounded before anything
recursive runs.
"""

from __future__ import annotations

import pytest

from zenflow.core.expressions import (
    ExpressionError,
    Reference,
    bracket_nesting,
    compile_expression,
    referenced_steps,
)

STEPS = {
    "build": {"phase": "Succeeded", "outputs": {"version": "1.2.3"}, "retries": 1},
    "main-process": {"phase": "Failed", "outputs": {}, "retries": 2},
}
PARAMS = {"env": "prod"}
FLOW = {"name": "demo", "namespace": "default", "uid": "u-1"}


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("steps.build.phase ==", id="dangling-operator"),
        pytest.param("(true", id="unbalanced"),
        pytest.param("   ", id="blank"),
    ],
)
def test_syntax_errors_raise_expression_error(source: str) -> None:
    with pytest.raises(ExpressionError):
        compile_expression(source)


def test_references_cover_dot_and_index_forms() -> None:
    compiled = compile_expression(
        'steps.build.outputs.version == "1" && steps["main-process"].phase == "Failed" '
        "&& params.env == flow.name"
    )
    assert set(compiled.references) == {
        Reference("steps", "build", "outputs", "version"),
        Reference("steps", "main-process", "phase"),
        Reference("params", "env"),
        Reference("flow", None, "name"),
    }
    assert compiled.unknown_roots == ()


def test_macro_variables_are_not_unknown_but_other_identifiers_are() -> None:
    assert compile_expression("[1, 2].all(x, x > 0)").unknown_roots == ()
    assert compile_expression("foo.bar == 1").unknown_roots == ("foo",)


@pytest.mark.parametrize(
    ("source", "unknown"),
    [
        pytest.param('size(params.env) > 0 && params.env.startsWith("p")', (), id="known"),
        pytest.param("has(steps.build.outputs.version)", (), id="has-macro"),
        pytest.param("[1].exists(x, x == 1) && int(params.env) > 0", (), id="macro-and-cast"),
        pytest.param("foo(1) == 1", ("foo",), id="function"),
        pytest.param('params.env.lowerAscii() == "prod"', ("lowerAscii",), id="method"),
    ],
)
def test_unknown_functions(source: str, unknown: tuple[str, ...]) -> None:
    assert compile_expression(source).unknown_functions == unknown


def test_evaluation_errors_are_short() -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression("foo(1) == 1").evaluate(params=PARAMS, steps=STEPS, flow=FLOW)
    assert "undeclared reference to 'foo'" in str(info.value)
    assert "activation" not in str(info.value)


def test_referenced_steps() -> None:
    assert referenced_steps('steps.a.phase == "Failed" || steps["b-c"].retries > 0') == {
        "a",
        "b-c",
    }


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param('steps["main-process"].phase == "Failed"', True, id="fallback"),
        pytest.param('steps.build.outputs.version == "1.2.3"', True, id="output"),
        pytest.param("steps.build.retries > 1", False, id="retries"),
        pytest.param('params.env == "prod" && flow.namespace == "default"', True, id="params"),
        pytest.param("true", True, id="always"),
    ],
)
def test_evaluate(source: str, expected: bool) -> None:
    compiled = compile_expression(source)
    assert compiled.evaluate(params=PARAMS, steps=STEPS, flow=FLOW) is expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        pytest.param("1 + 1", "must be a bool", id="not-bool"),
        pytest.param('steps.ghost.phase == "Failed"', "could not be evaluated", id="no-step"),
        pytest.param('steps.build.outputs.nope == "x"', "could not be evaluated", id="no-output"),
    ],
)
def test_evaluation_errors(source: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        compile_expression(source).evaluate(params=PARAMS, steps=STEPS, flow=FLOW)


def test_compilation_is_cached() -> None:
    assert compile_expression("true && true") is compile_expression("true && true")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        pytest.param("(" * 250 + "true" + ")" * 250, "nests 250 levels", id="250-parentheses"),
        pytest.param("[" * 40 + "1" + "]" * 40 + ".size() > 0", "nests 40 levels", id="lists"),
        pytest.param("!" * 1000 + "true", "too deeply nested", id="1000-negations"),
        pytest.param("params" + ".a" * 300 + ' == "x"', "too deeply nested", id="long-chain"),
    ],
)
def test_deeply_nested_expressions_are_refused_before_anything_recursive_runs(
    source: str, message: str
) -> None:
    with pytest.raises(ExpressionError, match=message):
        compile_expression(source)


@pytest.mark.parametrize(
    ("source", "nesting"),
    [
        pytest.param("true", 0, id="flat"),
        pytest.param("((a) || [b, {c: d}])", 3, id="mixed"),
        pytest.param('"((((" == params.x', 0, id="in-double-quotes"),
        pytest.param("'\\'((' == params.x", 0, id="escaped-quote"),
    ],
)
def test_bracket_nesting_ignores_string_literals(source: str, nesting: int) -> None:
    assert bracket_nesting(source) == nesting


def test_sixteen_levels_of_parentheses_still_compile_and_evaluate() -> None:
    compiled = compile_expression("(" * 16 + "params.a == 'x'" + ")" * 16)
    assert compiled.evaluate(params={"a": "x"}, steps={}, flow={}) is True
