"""Property tests: the validator never crashes on malformed input, only reports Problems.

Aspects: arbitrary JSON-like values in place of a whole object, of the spec, and of single
fields of a valid flow (mutations), including adversarial ones (nesting up to 3,000 levels,
``when`` expressions nested or chained hundreds deep, matrices and strings at and past their
limits); every error of an object names a field; random step graphs (cycles reported exactly
when present).
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.core.planning.flows import cron, flow, job, template
from zenflow.core.validation.validator import Problem, validate_object

FIELDS = [
    "name", "steps", "finally", "dependencies", "template", "run", "image", "command",
    "script", "when", "matrix", "values", "from", "retryPolicy", "backoff", "limit", "duration",
    "type", "params", "default", "outputs", "inputs", "spec", "containers", "restartPolicy",
]  # fmt: skip

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=True)
    | st.text(max_size=20)
    | st.sampled_from(["{{", "{{ params.x }}", "{{ steps.a.outputs.y }}", "a", "Job", "Manual"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=12) | st.sampled_from(FIELDS), children, max_size=5)
    ),
    max_leaves=20,
)


def nested(depth: int, leaf: Any) -> Any:
    node = leaf
    for i in range(depth):
        node = {"x": node} if i % 2 else [node]
    return node


adversarial = st.one_of(
    st.builds(nested, st.integers(1, 3_000), json_values),
    st.integers(1, 400).map(lambda n: "(" * n + "true" + ")" * n),
    st.integers(1, 1_000).map(lambda n: "!" * n + "true"),
    st.integers(1, 300).map(lambda n: "params" + ".a" * n),
    st.integers(0, 400).map(lambda n: {"values": {"k": list(range(n)), "j": list(range(n))}}),
    st.integers(0, 300_000).map(lambda n: "{{ params.p }}" * (n // 14) + "x" * (n % 14)),
    st.lists(st.sampled_from(["{{", "}}", "{{ steps.", ".outputs.", "params", "|", "("])).map(
        "".join
    ),
)
hostile_values = json_values | adversarial


BASE = flow(
    job("a", outputs=[{"name": "x"}]),
    job("b", "a", when='steps.a.phase == "Succeeded"', matrix={"values": {"k": [1, 2]}}),
    job("c", "a", "b", run=None, template=template(), retryPolicy={"limit": 2, "backoff": {}}),
    finally_=[job("z")],
    params=[{"name": "p", "default": "1"}],
    resourceTemplates={"configMapTemplates": [{"metadata": {"name": "cm"}, "data": {}}]},
)


def assert_only_problems(obj: Any) -> None:
    report = validate_object(obj)
    for problem in (*report.errors, *report.warnings):
        assert isinstance(problem, Problem)
        assert isinstance(problem.path, str)
        assert problem.message
    if isinstance(obj, dict):
        # Every refusal names a field (only a non-object as a whole has no field to name).
        assert all(p.path for p in report.errors), report.errors


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_objects(value: Any) -> None:
    assert_only_problems(value)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_values)
def test_arbitrary_specs(value: Any) -> None:
    assert_only_problems({**BASE, "spec": value})
    assert_only_problems({**cron(), "spec": {"schedule": "* * * * *", "jobFlowTemplate": value}})


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


PATHS = [p for p in _paths(BASE) if p]


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PATHS), hostile_values)
def test_single_field_mutations(path: tuple[Any, ...], value: Any) -> None:
    obj = copy.deepcopy(BASE)
    node: Any = obj
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    assert_only_problems(obj)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 7), max_size=3), min_size=1, max_size=8))
def test_random_graphs_report_cycles_exactly_when_present(deps: list[list[int]]) -> None:
    names = [f"s{i}" for i in range(len(deps))]
    edges = {
        names[i]: sorted({names[d] for d in ds if d < len(names) and d != i})
        for i, ds in enumerate(deps)
    }
    obj = flow(*(job(n, *edges[n]) for n in names))
    found = [str(p) for p in validate_object(obj).errors]
    # Reference: repeatedly remove steps without remaining dependencies.
    remaining = dict(edges)
    while True:
        free = [n for n, ds in remaining.items() if not set(ds) & set(remaining)]
        if not free:
            break
        for n in free:
            del remaining[n]
    has_cycle = bool(remaining)
    assert any("dependency cycle" in e for e in found) == has_cycle
    assert all("dependency cycle" in e for e in found)
