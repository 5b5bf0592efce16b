"""Tests of matrix expansion (zenflow.core.planning.matrix).

Aspects: cross-product order (values keys, then from keys, last key fastest), value
stringification, lists from upstream outputs, errors for missing/non-list sources and oversize
expansions, an empty expansion from an empty upstream list.
"""

from __future__ import annotations

import pytest

from zenflow.api.step import Matrix
from zenflow.core.planning.matrix import MatrixError, expand_matrix


def test_cross_product_order() -> None:
    matrix = Matrix(values={"region": ["us", "eu"], "shard": [1, 2]})
    assert expand_matrix(matrix) == [
        {"region": "us", "shard": "1"},
        {"region": "us", "shard": "2"},
        {"region": "eu", "shard": "1"},
        {"region": "eu", "shard": "2"},
    ]


def test_values_from_an_upstream_output() -> None:
    matrix = Matrix(values={"env": ["dev"]}, from_={"part": "{{ steps.split.outputs.parts }}"})
    combos = expand_matrix(matrix, sources={"part": '["p1", 2, {"k": 1}]'})
    assert combos == [
        {"env": "dev", "part": "p1"},
        {"env": "dev", "part": "2"},
        {"env": "dev", "part": '{"k":1}'},
    ]


def test_an_empty_upstream_list_expands_to_nothing() -> None:
    assert expand_matrix(Matrix(from_={"p": "x"}), sources={"p": "[]"}) == []


@pytest.mark.parametrize(
    ("matrix", "sources", "message"),
    [
        pytest.param(Matrix(from_={"p": "x"}), {}, "no value resolved", id="missing"),
        pytest.param(Matrix(from_={"p": "x"}), {"p": "nope"}, "not JSON", id="not-json"),
        pytest.param(Matrix(from_={"p": "x"}), {"p": '{"a": 1}'}, "not a JSON list", id="object"),
        pytest.param(
            Matrix(values={"a": list(range(17))}, from_={"b": "x"}),
            {"b": str(list(range(17)))},
            "expands to 289 Jobs",
            id="too-large",
        ),
    ],
)
def test_errors(matrix: Matrix, sources: dict[str, str], message: str) -> None:
    with pytest.raises(MatrixError, match=message):
        expand_matrix(matrix, sources=sources)
