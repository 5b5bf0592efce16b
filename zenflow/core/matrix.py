"""Matrix expansion: the list of value combinations one matrix step fans out into.

Order (which fixes each shard's index, and so its Job name): keys of ``values`` in declaration
order, then keys of ``from``; the cross product with the last key varying fastest, like nested
loops. Values are strings: literal integers as decimal text; elements of a list taken from an
upstream output are strings as they are and other JSON values as compact JSON.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from math import prod

from zenflow.api.step import Matrix
from zenflow.core.limits import MAX_MATRIX_SHARDS


class MatrixError(ValueError):
    """A matrix source is missing or not a JSON list, or the expansion is too large."""


def expand_matrix(
    matrix: Matrix, *, sources: Mapping[str, str] | None = None
) -> list[dict[str, str]]:
    """Every combination, in shard-index order. ``sources`` maps each ``from`` key to the
    resolved output text (a JSON list), e.g. ``{"partition": '["p1","p2"]'}``."""
    axes: list[tuple[str, list[str]]] = [
        (key, [str(v) for v in values]) for key, values in (matrix.values or {}).items()
    ]
    for key in matrix.from_ or {}:
        text = (sources or {}).get(key)
        if text is None:
            raise MatrixError(f"matrix.from.{key}: no value resolved")
        axes.append((key, _json_list(key, text)))
    total = prod(len(values) for _, values in axes) if axes else 0
    if total > MAX_MATRIX_SHARDS:
        raise MatrixError(f"matrix expands to {total} Jobs; at most {MAX_MATRIX_SHARDS} allowed")
    keys = [key for key, _ in axes]
    return [
        dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(v for _, v in axes))
    ]


def _json_list(key: str, text: str) -> list[str]:
    try:
        items = json.loads(text)
    except ValueError as exc:
        raise MatrixError(f"matrix.from.{key}: the output is not JSON: {text[:80]!r}") from exc
    if not isinstance(items, list):
        raise MatrixError(f"matrix.from.{key}: the output is not a JSON list: {text[:80]!r}")
    return [
        item if isinstance(item, str) else json.dumps(item, separators=(",", ":")) for item in items
    ]
