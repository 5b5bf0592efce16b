"""Layered layout of a flow's DAG for the browser: where each step's box goes.

Pure and deterministic (same steps in, same positions out). The drawing reads left to right:

- **Layers.** A step's layer is its longest distance from a root (``Dag.levels``): a step sits one
  column right of its latest dependency. ``finally`` steps run after everything else, so they
  start one layer after the last main layer (their own dependencies among one another still
  push them further right).
- **Order within a layer.** Spec order first, then a few barycenter sweeps (down: each step
  moves towards the mean height of its dependencies; up: of its dependents) so edges cross
  less. Steps without neighbours on the swept side keep their place.
- **Coordinates.** Every layer is a column of boxes, centred vertically on the tallest column.

Invariants: every step appears exactly once; every edge joins two laid-out steps and points
from a lower layer to a higher one; dependencies on unknown steps are dropped (the validator
reports them); steps caught in a cycle (never admitted, but a UI must not fail on it) are put
in one layer after the others, in spec order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from zenflow.core.dag import Dag

DEFAULT_SWEEPS = 4


@dataclass(frozen=True, slots=True)
class Geometry:
    """Box size and the gaps between layers (columns) and between boxes of one layer."""

    node_width: int = 200
    node_height: int = 52
    layer_gap: int = 72
    node_gap: int = 16

    @property
    def pitch(self) -> int:
        return self.node_height + self.node_gap

    @property
    def column(self) -> int:
        return self.node_width + self.layer_gap


@dataclass(frozen=True, slots=True)
class NodeBox:
    """One step's box: its layer (column), its index in that column, its top-left corner."""

    name: str
    layer: int
    index: int
    x: int
    y: int
    final: bool


@dataclass(frozen=True, slots=True)
class Layout:
    """Boxes in spec order, edges (dependency → dependent) and the drawing's size."""

    nodes: tuple[NodeBox, ...]
    edges: tuple[tuple[str, str], ...]
    width: int
    height: int
    geometry: Geometry

    @property
    def layers(self) -> list[list[str]]:
        """Step names per layer, top to bottom."""
        count = 1 + max((n.layer for n in self.nodes), default=-1)
        columns: list[list[NodeBox]] = [[] for _ in range(count)]
        for node in self.nodes:
            columns[node.layer].append(node)
        return [[n.name for n in sorted(col, key=lambda n: n.index)] for col in columns]

    def to_json(self) -> dict[str, object]:
        g = self.geometry
        return {
            "width": self.width,
            "height": self.height,
            "nodeWidth": g.node_width,
            "nodeHeight": g.node_height,
            "nodes": [
                {"name": n.name, "layer": n.layer, "x": n.x, "y": n.y, "finally": n.final}
                for n in self.nodes
            ],
            "edges": [list(e) for e in self.edges],
        }


def assign_layers(
    steps: Sequence[str], deps: Mapping[str, Sequence[str]], finally_steps: Sequence[str] = ()
) -> dict[str, int]:
    """Layer per step (see the module docstring); ``steps`` and ``finally_steps`` in spec order."""
    main = _layers_of(Dag.from_edges(steps, deps), base=0)
    base = 1 + max(main.values(), default=-1)
    finals = Dag.from_edges(finally_steps, {n: deps.get(n, ()) for n in finally_steps})
    return {**main, **_layers_of(finals, base=base)}


def _layers_of(dag: Dag, *, base: int) -> dict[str, int]:
    if dag.find_cycle() is None:
        return {n: base + depth for depth, level in enumerate(dag.levels()) for n in level}
    # A cycle: lay out what can be ordered, the rest in one extra layer.
    depth: dict[str, int] = {}
    pending = list(dag.nodes)
    while True:
        placed = [n for n in pending if all(d in depth for d in dag.dependencies(n))]
        if not placed:
            break
        for n in placed:
            depth[n] = 1 + max((depth[d] for d in dag.dependencies(n)), default=-1)
        pending = [n for n in pending if n not in depth]
    stuck = 1 + max(depth.values(), default=-1)
    return {n: base + depth.get(n, stuck) for n in dag.nodes}


def layout(
    steps: Sequence[str],
    deps: Mapping[str, Sequence[str]],
    finally_steps: Sequence[str] = (),
    *,
    geometry: Geometry | None = None,
    sweeps: int = DEFAULT_SWEEPS,
) -> Layout:
    """Lay out ``steps`` then ``finally_steps`` (spec order) with ``deps`` (name → names)."""
    geometry = geometry or Geometry()
    names = list(dict.fromkeys([*steps, *finally_steps]))
    layer = assign_layers(
        list(dict.fromkeys(steps)),
        deps,
        [n for n in dict.fromkeys(finally_steps) if n not in set(steps)],
    )
    edges = tuple(
        (d, n)
        for n in names
        for d in dict.fromkeys(deps.get(n, ()))
        if d in layer and layer[d] < layer[n]
    )
    columns: list[list[str]] = [[] for _ in range(1 + max(layer.values(), default=-1))]
    for name in names:
        columns[layer[name]].append(name)
    _reduce_crossings(columns, edges, sweeps=sweeps)

    tallest = max((len(c) for c in columns), default=0)
    boxes: dict[str, NodeBox] = {}
    final = set(finally_steps) - set(steps)
    for depth, column in enumerate(columns):
        top = (tallest - len(column)) * geometry.pitch // 2
        for index, name in enumerate(column):
            boxes[name] = NodeBox(
                name=name,
                layer=depth,
                index=index,
                x=depth * geometry.column,
                y=top + index * geometry.pitch,
                final=name in final,
            )
    width = max(0, len(columns) * geometry.column - geometry.layer_gap)
    height = max(0, tallest * geometry.pitch - geometry.node_gap)
    return Layout(
        nodes=tuple(boxes[n] for n in names),
        edges=edges,
        width=width,
        height=height,
        geometry=geometry,
    )


def _reduce_crossings(
    columns: list[list[str]], edges: Sequence[tuple[str, str]], *, sweeps: int
) -> None:
    """Reorder each column in place by barycenters, alternating down and up sweeps and ending
    with a down sweep (so the final order follows the dependencies, which read first)."""
    ups: dict[str, list[str]] = {}
    downs: dict[str, list[str]] = {}
    for source, target in edges:
        ups.setdefault(target, []).append(source)
        downs.setdefault(source, []).append(target)
    centre = _centres(columns)
    for sweep in range(sweeps):
        down = sweep % 2 == 0 or sweep == sweeps - 1
        neighbours = ups if down else downs
        order = range(1, len(columns)) if down else range(len(columns) - 2, -1, -1)
        for depth in order:

            def key(name: str, nb: dict[str, list[str]] = neighbours) -> float:
                around = nb.get(name)
                if not around:
                    return centre[name]
                return sum(centre[o] for o in around) / len(around)

            column = sorted(columns[depth], key=key)  # stable: ties keep their order
            columns[depth] = column
            centre.update(_centres([column]))


def _centres(columns: Sequence[Sequence[str]]) -> dict[str, float]:
    """Each step's vertical position relative to its column's middle (columns are centred in
    the drawing, so these are comparable across columns)."""
    return {
        name: index - (len(column) - 1) / 2
        for column in columns
        for index, name in enumerate(column)
    }
