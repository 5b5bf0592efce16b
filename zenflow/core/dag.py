"""The DAG engine: steps as nodes, ``dependencies`` as edges (dependency → dependent).

Pure and linear-time: building, topological order, cycle detection (Tarjan, iterative) and the
reachability queries are O(steps + edges). Node order is spec order, and every query that returns
a sequence returns it in a deterministic order derived from spec order.

Invariants of a ``Dag``: every name in ``dependencies(x)``/``dependents(x)`` is a node; no
duplicate edges. Dependencies naming unknown steps are dropped when building (the validator
reports them); a self-dependency is kept and is a cycle of length one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class HasDependencies(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def dependencies(self) -> Sequence[str]: ...


class CycleError(ValueError):
    """The graph has a cycle; ``cycle`` lists it, first node repeated at the end."""

    def __init__(self, cycle: list[str]) -> None:
        super().__init__("dependency cycle: " + " -> ".join(cycle))
        self.cycle = cycle


TERMINAL_PHASES = frozenset({"Succeeded", "Failed", "Skipped"})
NOT_STARTED_PHASES = frozenset({"Pending"})


@dataclass(frozen=True, slots=True)
class Dag:
    """An immutable dependency graph over named nodes."""

    nodes: tuple[str, ...]
    _deps: Mapping[str, tuple[str, ...]]
    # Derived results (dependents, topological order, acyclicity), filled on first use; not
    # part of equality.
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_edges(cls, nodes: Iterable[str], deps: Mapping[str, Iterable[str]]) -> Dag:
        """Build from node names (spec order; duplicates keep the first) and name → deps."""
        order: dict[str, None] = dict.fromkeys(nodes)
        dep_map: dict[str, tuple[str, ...]] = {}
        rev: dict[str, list[str]] = {n: [] for n in order}
        for node in order:
            kept = tuple(d for d in dict.fromkeys(deps.get(node, ())) if d in order)
            dep_map[node] = kept
            for d in kept:
                rev[d].append(node)
        return cls(tuple(order), dep_map, {"rev": {n: tuple(v) for n, v in rev.items()}})

    @classmethod
    def from_clean_edges(cls, deps: Mapping[str, tuple[str, ...]], *, acyclic: bool = False) -> Dag:
        """Build from name → deps (spec order) already known to be clean: every dependency is a
        key, none repeated. ``acyclic``: the caller knows there is no cycle (e.g. every step
        depends only on earlier ones). The validator's fast path; ``from_edges`` checks."""
        return cls(tuple(deps), dict(deps), {"acyclic": True} if acyclic else {})

    @classmethod
    def from_steps(cls, steps: Iterable[HasDependencies]) -> Dag:
        """Build from step objects with ``name`` and ``dependencies``."""
        steps = list(steps)
        return cls.from_edges((s.name for s in steps), {s.name: s.dependencies for s in steps})

    def __contains__(self, name: object) -> bool:
        return name in self._deps

    def __len__(self) -> int:
        return len(self.nodes)

    def dependencies(self, name: str) -> tuple[str, ...]:
        """Direct dependencies of ``name``."""
        return self._deps[name]

    def dependents(self, name: str) -> tuple[str, ...]:
        """Nodes that depend directly on ``name``."""
        return self._rev()[name]

    def _rev(self) -> Mapping[str, tuple[str, ...]]:
        """Node → its dependents (in spec order), computed once."""
        rev = self._cache.get("rev")
        if rev is None:
            lists: dict[str, list[str]] = {n: [] for n in self.nodes}
            for node in self.nodes:
                for d in self._deps[node]:
                    lists[d].append(node)
            rev = self._cache["rev"] = {n: tuple(v) for n, v in lists.items()}
        return rev

    def roots(self) -> list[str]:
        """Nodes without dependencies."""
        return [n for n in self.nodes if not self._deps[n]]

    def leaves(self) -> list[str]:
        """Nodes nothing depends on."""
        rev = self._rev()
        return [n for n in self.nodes if not rev[n]]

    def ancestors(self, name: str) -> set[str]:
        """Everything ``name`` depends on, transitively (excluding itself unless in a cycle)."""
        return _reach(name, self.dependencies)

    def descendants(self, name: str) -> set[str]:
        """Everything that depends on ``name``, transitively (what a re-run of it invalidates)."""
        return _reach(name, self.dependents)

    def topological_order(self) -> list[str]:
        """Every node after all its dependencies; ties broken by spec order (Kahn's algorithm
        with a FIFO seeded in spec order). Raises CycleError."""
        order = self._kahn()
        if order is None:
            cycle = self.find_cycle()
            assert cycle is not None  # Kahn stalls only on a cycle
            raise CycleError(cycle)
        return list(order)

    def _kahn(self) -> tuple[str, ...] | None:
        """Topological order, or None when there is a cycle; computed once per Dag."""
        if "order" in self._cache:
            return self._cache["order"]  # type: ignore[no-any-return]
        indegree = {n: len(self._deps[n]) for n in self.nodes}
        queue = deque(n for n in self.nodes if indegree[n] == 0)
        out: list[str] = []
        rev = self._rev()
        while queue:
            node = queue.popleft()
            out.append(node)
            for child in rev[node]:
                indegree[child] -= 1
                if indegree[child] == 0:
                    queue.append(child)
        result = tuple(out) if len(out) == len(self.nodes) else None
        self._cache["order"] = result
        return result

    def levels(self) -> list[list[str]]:
        """Nodes grouped by longest distance from a root (what can run together)."""
        depth: dict[str, int] = {}
        for node in self.topological_order():
            depth[node] = 1 + max((depth[d] for d in self._deps[node]), default=-1)
        grouped: list[list[str]] = [[] for _ in range(1 + max(depth.values(), default=-1))]
        for node in self.nodes:
            grouped[depth[node]].append(node)
        return grouped

    def find_cycles(self) -> list[list[str]]:
        """One concrete cycle per strongly connected component that has one, as
        ``[a, b, c, a]`` in execution direction: b depends on a, c on b, a on c."""
        if self._cache.get("acyclic") or self._kahn() is not None:
            return []  # the cheap checks: acyclic graphs (the usual case) skip Tarjan
        order = {n: i for i, n in enumerate(self.nodes)}
        cycles: list[list[str]] = []
        for component in _strongly_connected(self.nodes, self._deps):
            start = min(component, key=order.__getitem__)
            if len(component) == 1 and start not in self._deps[start]:
                continue
            cycles.append(self._cycle_through(start, set(component)))
        cycles.sort(key=lambda c: order[c[0]])
        return cycles

    def find_cycle(self) -> list[str] | None:
        """The first cycle (by spec order of its first node), or None when acyclic."""
        cycles = self.find_cycles()
        return cycles[0] if cycles else None

    def ready(self, states: Mapping[str, str]) -> list[str]:
        """Nodes not started yet (phase missing or Pending) whose dependencies are all terminal
        (Succeeded, Failed, Skipped), in spec order. Whether each runs or is skipped is the
        readiness rules' decision, not the graph's."""
        out = []
        for node in self.nodes:
            if states.get(node, "Pending") not in NOT_STARTED_PHASES:
                continue
            if all(states.get(d) in TERMINAL_PHASES for d in self._deps[node]):
                out.append(node)
        return out

    def _cycle_through(self, start: str, members: set[str]) -> list[str]:
        """A shortest cycle through ``start`` inside one component, in execution direction
        (found by BFS over dependencies, then reversed)."""
        parent: dict[str, str] = {}
        queue = deque([start])
        seen = {start}
        while queue:
            node = queue.popleft()
            for dep in self._deps[node]:
                if dep == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    # path runs node … start against the dependency edges: execution order.
                    return [start, *path[:-1], start]
                if dep in members and dep not in seen:
                    seen.add(dep)
                    parent[dep] = node
                    queue.append(dep)
        raise AssertionError("a strongly connected component always has a cycle")


def _reach(start: str, step: Callable[[str], tuple[str, ...]]) -> set[str]:
    seen: set[str] = set()
    stack = list(step(start))
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(step(node))
    return seen


def _strongly_connected(
    nodes: Sequence[str], edges: Mapping[str, tuple[str, ...]]
) -> list[list[str]]:
    """Tarjan's algorithm without recursion (flows may be 1,000 steps deep)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            succ = edges[node]
            recursed = False
            while i < len(succ):
                nxt = succ[i]
                i += 1
                if nxt not in index:
                    work.append((node, i))
                    work.append((nxt, 0))
                    recursed = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if recursed:
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                out.append(component)
    return out
