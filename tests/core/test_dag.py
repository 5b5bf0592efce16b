"""Tests of the DAG engine (zenflow.core.dag).

Aspects: building (unknown dependencies dropped, duplicates merged), dependencies/dependents,
roots/leaves, topological order (spec-order ties, CycleError), levels, cycle detection (naming the
cycle in execution order, one per strongly connected component, self-loops), ready set,
ancestors/descendants; property tests on random graphs: a cycle is found exactly when a
reference algorithm (transitive closure) finds one, every reported cycle is a real cycle, and
the topological order respects every edge.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zenflow.api.jobflow import RunSpec, Step
from zenflow.core.dag import CycleError, Dag


def dag(edges: Mapping[str, list[str]], nodes: Sequence[str] | None = None) -> Dag:
    return Dag.from_edges(nodes if nodes is not None else list(edges), edges)


def test_from_steps_drops_unknown_and_duplicate_dependencies() -> None:
    steps = [
        Step(name="a", run=RunSpec(image="x")),
        Step(name="b", dependencies=["a", "a", "ghost"], run=RunSpec(image="x")),
    ]
    graph = Dag.from_steps(steps)
    assert graph.nodes == ("a", "b")
    assert graph.dependencies("b") == ("a",)
    assert graph.dependents("a") == ("b",)
    assert "a" in graph
    assert "ghost" not in graph
    assert len(graph) == 2


def test_roots_leaves_and_reachability_of_a_diamond() -> None:
    graph = dag({"start": [], "a": ["start"], "b": ["start"], "merge": ["a", "b"]})
    assert graph.roots() == ["start"]
    assert graph.leaves() == ["merge"]
    assert graph.descendants("a") == {"merge"}
    assert graph.descendants("start") == {"a", "b", "merge"}
    assert graph.ancestors("merge") == {"start", "a", "b"}
    assert graph.ancestors("start") == set()
    assert graph.levels() == [["start"], ["a", "b"], ["merge"]]


def test_topological_order_breaks_ties_by_spec_order() -> None:
    graph = dag({"z": [], "y": [], "x": ["z"], "w": ["y"]})
    assert graph.topological_order() == ["z", "y", "x", "w"]


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        pytest.param({"a": ["c"], "b": ["a"], "c": ["b"]}, [["a", "b", "c", "a"]], id="triangle"),
        pytest.param({"a": ["a"]}, [["a", "a"]], id="self-loop"),
        pytest.param(
            {"a": ["b"], "b": ["a"], "c": ["d"], "d": ["c"], "e": ["a"]},
            [["a", "b", "a"], ["c", "d", "c"]],
            id="two-components",
        ),
        pytest.param({"a": [], "b": ["a"]}, [], id="acyclic"),
    ],
)
def test_find_cycles_names_each_cycle_in_execution_order(
    edges: dict[str, list[str]], expected: list[list[str]]
) -> None:
    graph = dag(edges)
    assert graph.find_cycles() == expected
    assert graph.find_cycle() == (expected[0] if expected else None)


def test_topological_order_raises_cycle_error_naming_the_cycle() -> None:
    graph = dag({"a": ["c"], "b": ["a"], "c": ["b"]})
    with pytest.raises(CycleError, match="a -> b -> c -> a") as info:
        graph.topological_order()
    assert info.value.cycle == ["a", "b", "c", "a"]


def test_cycles_are_found_in_a_deep_chain_without_recursion() -> None:
    names = [f"s{i}" for i in range(5000)]
    edges = {n: [names[i - 1]] if i else [names[-1]] for i, n in enumerate(names)}
    cycle = dag(edges, nodes=names).find_cycle()
    assert cycle is not None
    assert len(cycle) == 5001


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        pytest.param({}, ["a"], id="nothing-started"),
        pytest.param({"a": "Running"}, [], id="root-running"),
        pytest.param({"a": "Succeeded"}, ["b", "c"], id="root-done"),
        pytest.param({"a": "Failed"}, ["b", "c"], id="failed-is-terminal"),
        pytest.param({"a": "Succeeded", "b": "Skipped", "c": "Retrying"}, [], id="waits-all"),
        pytest.param(
            {"a": "Succeeded", "b": "Succeeded", "c": "Succeeded"}, ["d"], id="fan-in-ready"
        ),
        pytest.param(
            {"a": "Succeeded", "b": "Succeeded", "c": "Succeeded", "d": "Running"},
            [],
            id="started-not-ready",
        ),
    ],
)
def test_ready_lists_unstarted_steps_whose_dependencies_are_terminal(
    states: dict[str, str], expected: list[str]
) -> None:
    graph = dag({"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]})
    assert graph.ready(states) == expected


# --- properties --------------------------------------------------------------------------------


@st.composite
def random_graphs(draw: st.DrawFn) -> tuple[list[str], dict[str, list[str]]]:
    size = draw(st.integers(min_value=0, max_value=12))
    nodes = [f"n{i}" for i in range(size)]
    edges = {n: draw(st.lists(st.sampled_from(nodes), max_size=4)) if nodes else [] for n in nodes}
    return nodes, edges


def closure_has_cycle(nodes: list[str], edges: dict[str, list[str]]) -> bool:
    """Reference: a node reaches itself in the transitive closure (Warshall)."""
    reach = {a: set(edges[a]) for a in nodes}
    for k in nodes:
        for i in nodes:
            if k in reach[i]:
                reach[i] |= reach[k]
    return any(n in reach[n] for n in nodes)


@settings(max_examples=300, deadline=None)
@given(random_graphs())
def test_a_cycle_is_found_exactly_when_one_exists(
    graph_spec: tuple[list[str], dict[str, list[str]]],
) -> None:
    nodes, edges = graph_spec
    graph = Dag.from_edges(nodes, edges)
    cycles = graph.find_cycles()
    assert bool(cycles) == closure_has_cycle(nodes, edges)
    for cycle in cycles:
        assert cycle[0] == cycle[-1]
        assert len(set(cycle[:-1])) == len(cycle) - 1  # simple cycle
        for earlier, later in itertools.pairwise(cycle):
            assert earlier in edges[later]  # later depends on earlier


@settings(max_examples=300, deadline=None)
@given(random_graphs())
def test_topological_order_respects_every_edge(
    graph_spec: tuple[list[str], dict[str, list[str]]],
) -> None:
    nodes, edges = graph_spec
    graph = Dag.from_edges(nodes, edges)
    if graph.find_cycle() is not None:
        with pytest.raises(CycleError):
            graph.topological_order()
        return
    order = graph.topological_order()
    assert sorted(order) == sorted(nodes)
    position = {n: i for i, n in enumerate(order)}
    for node in nodes:
        for dep in edges[node]:
            assert position[dep] < position[node]


@settings(max_examples=200, deadline=None)
@given(random_graphs())
def test_descendants_and_ancestors_mirror_each_other(
    graph_spec: tuple[list[str], dict[str, list[str]]],
) -> None:
    nodes, edges = graph_spec
    graph = Dag.from_edges(nodes, edges)
    for a in nodes:
        for b in graph.descendants(a):
            assert a in graph.ancestors(b)
