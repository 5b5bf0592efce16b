"""Tests of `{{ … }}` templating (zenflow.core.templating).

Aspects: parsing every reference kind, whitespace tolerance, foreign `{{ }}` (Go templates) left
alone, malformed references reported; finding references with field paths in a dict tree;
rendering with a context (including matrix and step values), missing values raise TemplateError,
non-string leaves and keys untouched.
"""

from __future__ import annotations

import pytest

from zenflow.core.templating import (
    TemplateContext,
    TemplateError,
    find_references,
    parse_references,
    render,
    render_string,
)


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        pytest.param("{{ params.env }}", ["params.env"], id="param"),
        pytest.param("{{params.env}}", ["params.env"], id="no-spaces"),
        pytest.param("{{ flow.name }}-{{ flow.uid }}", ["flow.name", "flow.uid"], id="flow"),
        pytest.param("{{ steps.map-1.outputs.count }}", ["steps.map-1.outputs.count"], id="output"),
        pytest.param("{{ steps.build.phase }}", ["steps.build.phase"], id="phase"),
        pytest.param("{{ matrix.region }}", ["matrix.region"], id="matrix"),
        pytest.param("{{ step.attempt }}", ["step.attempt"], id="self"),
        pytest.param("{{ .metadata.name }} {{ range .items }}", [], id="go-template"),
        pytest.param("plain text", [], id="none"),
    ],
)
def test_parse_references(text: str, keys: list[str]) -> None:
    refs, errors = parse_references(text)
    assert errors == []
    assert [r.key for r in refs] == keys


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("{{ params.a.b }}", "expected params.NAME", id="param-depth"),
        pytest.param("{{ flow.owner }}", "expected flow.name", id="flow-field"),
        pytest.param("{{ steps.a }}", "expected steps.STEP.outputs.NAME", id="steps-short"),
        pytest.param("{{ steps.a.outputs }}", "expected steps.STEP", id="outputs-no-key"),
        pytest.param("{{ params.x y }}", "malformed reference", id="junk"),
        pytest.param("{{ step.uid }}", "expected step.name or step.attempt", id="step-field"),
    ],
)
def test_malformed_references(text: str, message: str) -> None:
    refs, errors = parse_references(text)
    assert refs == []
    assert len(errors) == 1
    assert message in errors[0]


def test_find_references_reports_field_paths() -> None:
    tree = {
        "spec": {"containers": [{"image": "x", "command": ["echo", "{{ params.env }}"]}]},
        "count": 3,
    }
    refs, errors = find_references(tree, "spec.steps[0].template")
    assert errors == []
    assert [(path, ref.key) for path, ref in refs] == [
        ("spec.steps[0].template.spec.containers[0].command[1]", "params.env")
    ]


def test_render_substitutes_every_string_and_keeps_the_rest() -> None:
    context = TemplateContext(
        params={"env": "prod"},
        flow={"name": "demo"},
        step_outputs={"split": {"n": "3"}},
        step_phases={"split": "Succeeded"},
        matrix={"region": "eu"},
        step={"name": "process", "attempt": "2"},
    )
    tree = {
        "{{ params.env }}": "{{ flow.name }}/{{ matrix.region }}",
        "args": ["{{ steps.split.outputs.n }}", "{{steps.split.phase}}", 7, None],
        "attempt": "{{ step.name }}#{{ step.attempt }} {{ .go }}",
    }
    assert render(tree, context) == {
        "{{ params.env }}": "demo/eu",
        "args": ["3", "Succeeded", 7, None],
        "attempt": "process#2 {{ .go }}",
    }


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("{{ params.missing }}", id="param"),
        pytest.param("{{ steps.x.outputs.y }}", id="output"),
        pytest.param("{{ params.a.b }}", id="malformed"),
    ],
)
def test_render_raises_on_what_it_cannot_resolve(text: str) -> None:
    with pytest.raises(TemplateError):
        render_string(text, TemplateContext().resolve)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "echo {{ steps.a.outputs.x }} {{ params.secret }}",
            "echo {{ params.secret }} s3cr3t",
            id="output-naming-a-param-used-later",
        ),
        pytest.param(
            "{{ params.secret }} {{ steps.a.outputs.x }}",
            "s3cr3t {{ params.secret }}",
            id="output-naming-a-param-used-earlier",
        ),
        pytest.param("{{ steps.a.outputs.x }}", "{{ params.secret }}", id="output-alone"),
    ],
)
def test_substituted_values_are_never_expanded_again(text: str, expected: str) -> None:
    """One pass: an output that itself holds a reference stays literal text (no second-order
    expansion, which would let a step's output read any param of the flow)."""
    context = TemplateContext(
        params={"secret": "s3cr3t"}, step_outputs={"a": {"x": "{{ params.secret }}"}}
    )
    assert render_string(text, context.resolve) == expected


def test_a_param_value_holding_a_reference_stays_literal() -> None:
    context = TemplateContext(params={"a": "{{ params.b }}", "b": "B"})
    assert render_string("{{ params.a }}/{{ params.b }}", context.resolve) == "{{ params.b }}/B"
