"""Property test: the validator's fast paths agree with its exact paths.

The validator decides common cases with whole-flow shortcuts (distinct-reference scan,
per-step JSON scan, whole-list dependency checks); this forces the step-by-step paths and checks
that random flows - with valid and invalid references, dependencies and names - get exactly the
same errors and warnings either way.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.core.planning.flows import flow, job
from zenflow.core import templating
from zenflow.core.validation import refs as validation_refs
from zenflow.core.validation import steps as validation_steps
from zenflow.core.validation.validator import validate_object

NAMES = ["a", "b", "c", "d", "e"]
REFS = [
    "{{ params.p }}",
    "{{ params.missing }}",
    "{{ flow.name }}",
    "{{ steps.a.outputs.out }}",
    "{{ steps.b.outputs.nope }}",
    "{{ steps.c.phase }}",
    "{{ steps.ghost.phase }}",
    "{{ matrix.k }}",
    "{{ step.attempt }}",
    "{{ params.p.q }}",
    "{{ .go.template }}",
    "plain",
]


@st.composite
def flows(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(1, 5))
    steps = []
    for i in range(count):
        name = draw(st.sampled_from([*NAMES, "Bad", "x-"])) if draw(st.booleans()) else NAMES[i]
        deps = draw(st.lists(st.sampled_from([*NAMES, "ghost"]), max_size=3))
        words = draw(st.lists(st.sampled_from(REFS), max_size=3))
        extra: dict[str, Any] = {"outputs": [{"name": "out"}]} if draw(st.booleans()) else {}
        if draw(st.booleans()):
            extra["matrix"] = {"values": {"k": [1, 2]}}
        if draw(st.booleans()):
            extra["inputs"] = [{"name": "X", "value": draw(st.sampled_from(REFS))}]
        steps.append(
            job(name, *deps, run={"image": "busybox", "command": ["echo", *words]}, **extra)
        )
    return flow(*steps, params=[{"name": "p", "default": "1"}])


def problems(obj: dict[str, Any]) -> tuple[list[str], list[str]]:
    report = validate_object(obj)
    return sorted(map(str, report.errors)), sorted(map(str, report.warnings))


@settings(max_examples=300, deadline=None)
@given(flows())
def test_fast_and_exact_paths_agree(obj: dict[str, Any]) -> None:
    fast = problems(obj)
    with (
        mock.patch.object(templating, "unique_references", return_value=([], ["force"])),
        mock.patch.object(validation_refs._Checker, "step_refs_ok", return_value=False),
        mock.patch.object(validation_steps, "_clean_dag", return_value=None),
    ):
        exact = problems(obj)
    assert fast == exact
