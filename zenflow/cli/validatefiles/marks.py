"""YAML documents read with the position of every field, so a problem's field path
(``spec.steps[0].retryPolicy.limit``) can be shown as ``file:line:column`` as editors and CI
annotations expect.

``read_marked`` parses a file once: each document's data (as ``yaml.safe_load`` builds it) and
its node tree. ``Marks.locate(path)`` walks the tree along the path and returns the 1-based
line and column of the deepest field it reaches: the key of a mapping entry, the item of a
list; a path that goes on past what the document holds (a missing field) ends at its nearest
existing ancestor. Map keys may contain dots (``app.kubernetes.io/name``): the longest key that
matches the rest of the path wins.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from zenflow.cli.documents import InputError

_INDEX = re.compile(r"^\[(\d+)\]")


@dataclass(frozen=True, slots=True)
class Position:
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Marks:
    """Positions of one object's fields (a document, or an item of a ``List`` document)."""

    node: yaml.Node

    def locate(self, path: str) -> Position:
        node, at = self.node, _position(self.node)
        rest = path
        while rest:
            found = _step(node, rest)
            if found is None:
                break
            node, at, rest = found
        return at


def _position(node: yaml.Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


def _step(node: yaml.Node, rest: str) -> tuple[yaml.Node, Position, str] | None:
    """One field further along ``rest``: (its value node, its position, what remains)."""
    if isinstance(node, yaml.SequenceNode):
        match = _INDEX.match(rest)
        if match is None or int(match.group(1)) >= len(node.value):
            return None
        item = node.value[int(match.group(1))]
        return item, _position(item), rest[match.end() :].removeprefix(".")
    if isinstance(node, yaml.MappingNode):
        best: tuple[yaml.Node, yaml.Node] | None = None
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else None
            if not isinstance(name, str) or not _prefix_of(name, rest):
                continue
            if best is None or len(name) > len(best[0].value):
                best = (key, value)
        if best is None:
            return None
        key, value = best
        return value, _position(key), rest[len(key.value) :].removeprefix(".")
    return None


def _prefix_of(name: str, rest: str) -> bool:
    return rest == name or rest.startswith((name + ".", name + "["))


@dataclass(frozen=True, slots=True)
class MarkedDocument:
    """One non-empty object of a file: where it came from, its data and its field positions.
    ``index`` counts the file's YAML documents from 1 (the items of a ``List`` share it)."""

    source: str
    index: int
    content: Any
    marks: Marks


def read_marked(path: str) -> Iterator[MarkedDocument]:
    """Every non-empty document of ``path`` (``-`` is stdin); raises InputError."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from exc
    try:
        parsed = list(_documents(text))
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from exc
    for index, (node, content) in enumerate(parsed, start=1):
        if content is None:
            continue
        if isinstance(content, dict) and content.get("kind") == "List":
            items = _items_node(node)
            for number, item in enumerate(content.get("items") or []):
                at = items.value[number] if items is not None else node
                yield MarkedDocument(path, index, item, Marks(at))
        else:
            yield MarkedDocument(path, index, content, Marks(node))


def _documents(text: str) -> Iterator[tuple[yaml.Node, Any]]:
    """(node, data) of each document, from one parse."""
    loader = yaml.SafeLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                yield node, loader.construct_document(node)
    finally:
        loader.dispose()


def _items_node(node: yaml.Node) -> yaml.SequenceNode | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if getattr(key, "value", None) == "items" and isinstance(value, yaml.SequenceNode):
                return value
    return None
