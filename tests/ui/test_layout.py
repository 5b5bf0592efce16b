"""The pure DAG layout (zenflow.ui.layout):

- examples/cicd.yaml: 8 boxes, 9 edges, the stages in layers 0..5, tests side by side;
- a step sits one layer right of its latest dependency; edges always point right;
- finally steps start after the last main layer; unknown dependencies are dropped;
- a cycle (never admitted) still lays out every step once;
- barycenter ordering uncrosses a crossed pair; columns are centred; sizes follow geometry;
- a 1,000-step flow lays out with every step once.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from zenflow.ui.layout import Geometry, assign_layers, layout

ROOT = Path(__file__).resolve().parents[2]


def _spec(path: Path) -> tuple[list[str], dict[str, list[str]]]:
    doc = yaml.safe_load(path.read_text())
    steps = doc["spec"]["steps"]
    return [s["name"] for s in steps], {s["name"]: s.get("dependencies", []) for s in steps}


def test_cicd_example_has_eight_nodes_nine_edges_in_six_layers() -> None:
    names, deps = _spec(ROOT / "examples" / "cicd.yaml")
    drawn = layout(names, deps)
    assert len(drawn.nodes) == 8
    assert len(drawn.edges) == 9
    assert drawn.layers == [
        ["checkout"],
        ["install"],
        ["build"],
        ["unit-tests", "integration-tests", "e2e-tests"],
        ["deploy"],
        ["notify"],
    ]


@pytest.mark.parametrize(
    ("deps", "expected"),
    [
        pytest.param({"b": ["a"], "c": ["b"]}, {"a": 0, "b": 1, "c": 2}, id="chain"),
        pytest.param({"c": ["a", "b"], "b": ["a"]}, {"a": 0, "b": 1, "c": 2}, id="longest-path"),
        pytest.param({"b": ["ghost"]}, {"a": 0, "b": 0, "c": 0}, id="unknown-dependency-dropped"),
        pytest.param({}, {"a": 0, "b": 0, "c": 0}, id="independent"),
    ],
)
def test_layers_follow_the_longest_dependency_path(
    deps: dict[str, list[str]], expected: dict[str, int]
) -> None:
    assert assign_layers(["a", "b", "c"], deps) == expected


def test_finally_steps_start_after_the_last_main_layer() -> None:
    layers = assign_layers(["a", "b"], {"b": ["a"], "g": ["f"]}, ["f", "g"])
    assert layers == {"a": 0, "b": 1, "f": 2, "g": 3}
    drawn = layout(["a", "b"], {"b": ["a"]}, ["f"])
    assert [n.name for n in drawn.nodes if n.final] == ["f"]


def test_a_cycle_still_places_every_step_once() -> None:
    drawn = layout(["a", "b", "c"], {"b": ["a", "c"], "c": ["b"]})
    assert sorted(n.name for n in drawn.nodes) == ["a", "b", "c"]
    assert {n.name: n.layer for n in drawn.nodes}["a"] == 0
    assert all(n.layer == 1 for n in drawn.nodes if n.name != "a")


def test_edges_point_from_a_lower_layer_to_a_higher_one() -> None:
    names = [f"s{i}" for i in range(30)]
    deps = {f"s{i}": [f"s{j}" for j in range(i) if (i * 7 + j) % 5 == 0] for i in range(30)}
    drawn = layout(names, deps)
    layer = {n.name: n.layer for n in drawn.nodes}
    assert drawn.edges
    assert all(layer[a] < layer[b] for a, b in drawn.edges)
    assert len(drawn.edges) == sum(len(v) for v in deps.values())


def test_barycenter_sweeps_uncross_a_crossed_pair() -> None:
    # a1 -> b2 and a2 -> b1 cross in spec order; the sweep swaps b1 and b2.
    drawn = layout(["a1", "a2", "b1", "b2"], {"b1": ["a2"], "b2": ["a1"]})
    assert drawn.layers == [["a1", "a2"], ["b2", "b1"]]


def test_columns_are_centred_and_sized_by_the_geometry() -> None:
    g = Geometry(node_width=100, node_height=40, layer_gap=50, node_gap=10)
    drawn = layout(["a", "b", "c", "d"], {"b": ["a"], "c": ["a"], "d": ["a"]}, geometry=g)
    box = {n.name: n for n in drawn.nodes}
    assert (box["a"].x, box["b"].x) == (0, 150)
    assert [box[n].y for n in ("b", "c", "d")] == [0, 50, 100]
    assert box["a"].y == 50  # centred against the three-box column
    assert (drawn.width, drawn.height) == (250, 140)


def test_a_thousand_steps_lay_out_each_once() -> None:
    names = [f"step-{i}" for i in range(1000)]
    deps = {f"step-{i}": [f"step-{i // 2}"] for i in range(1, 1000)}
    drawn = layout(names, deps)
    assert len({n.name for n in drawn.nodes}) == 1000
    assert len(drawn.edges) == 999
    doc = drawn.to_json()
    assert len(doc["nodes"]) == 1000  # type: ignore[arg-type]
