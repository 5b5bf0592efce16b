"""Tests of zenflow.boundedjson: JSON decoding with an explicit bound on nesting.

Aspects: ``json_depth`` equals the real nesting depth of any JSON value (hypothesis, with strings
full of brackets, quotes and backslashes) and stops counting past the limit; ``loads`` refuses
text deeper than the bound with ``JSONDepthError`` (10,000 levels, past what the interpreter's
own decoder survives) and never lets a ``RecursionError`` out; ``loads_truncated`` keeps the
shallow fields of an over-deep object; at orjson's own bound it refuses deeper text without a
scan; ``dumps`` writes compact JSON and falls back to the standard encoder for what orjson
refuses; ``array_items`` splits a Kubernetes list into its raw
items, whatever those items hold.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zenflow.boundedjson import (
    DECODER_DEPTH,
    JSONDepthError,
    array_items,
    dumps,
    json_depth,
    loads,
    loads_truncated,
)

TRICKY_TEXT = st.text(alphabet='[]{}"\\,:ab \n\u00e9', max_size=12)
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
"""The integers an API server answer can hold (it decodes numbers into int64 or float64)."""
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | INT64 | TRICKY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TRICKY_TEXT, inner, max_size=4),
    max_leaves=30,
)


def depth_of(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    return 0


def nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@given(JSON_VALUES, st.booleans())
def test_json_depth_is_the_real_depth(value: Any, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert json_depth(text, limit=100) == depth_of(value)
    assert json_depth(text.encode(), limit=100) == depth_of(value)


@given(JSON_VALUES)
def test_loads_round_trips_what_fits(value: Any) -> None:
    assert loads(json.dumps(value), max_depth=depth_of(value)) == value


def test_loads_reads_integers_past_64_bits_as_floats() -> None:
    # orjson's reading; no API server answer holds one (see INT64).
    assert loads("[9223372036854775807, 99999999999999999999]", max_depth=1) == [
        9223372036854775807,
        1e20,
    ]


@pytest.mark.parametrize("depth", [65, 2_000, 10_000])
def test_loads_refuses_what_is_deeper_than_the_bound(depth: int) -> None:
    with pytest.raises(JSONDepthError, match="more than 64 levels") as caught:
        loads(nested(depth), max_depth=64)
    assert caught.value.limit == 64
    assert json_depth(nested(depth), limit=64) == 65


@pytest.mark.parametrize("bound", [DECODER_DEPTH, 5_000])
def test_loads_at_the_decoders_own_bound_refuses_deeper_text_without_scanning(bound: int) -> None:
    assert loads(nested(DECODER_DEPTH), max_depth=bound) == json.loads(nested(DECODER_DEPTH))
    with pytest.raises(JSONDepthError, match=f"more than {DECODER_DEPTH} levels"):
        loads(nested(10_000), max_depth=bound)


def test_loads_skips_the_scan_when_the_text_has_fewer_brackets_than_the_bound() -> None:
    # A string full of brackets inflates the count: the scan then runs and finds depth 1.
    text = json.dumps({"a": "[" * 100})
    assert loads(text, max_depth=1) == {"a": "[" * 100}
    assert loads('{"a": [1]}', max_depth=2) == {"a": [1]}


def test_dumps_writes_compact_json_with_keys_sorted_on_request() -> None:
    value = {"b": [1, "é"], "a": {"c": None}, 3: True}
    assert dumps(value) == '{"b":[1,"é"],"a":{"c":null},"3":true}'.encode()
    assert dumps(value, sort_keys=True) == '{"3":true,"a":{"c":null},"b":[1,"é"]}'.encode()


def test_dumps_falls_back_to_the_standard_encoder_for_what_orjson_refuses() -> None:
    deep: list[Any] = []
    inner = deep
    for _ in range(300):  # orjson stops at 254 levels
        inner.append([])
        inner = inner[0]
    assert json.loads(dumps(deep)) == deep
    assert dumps({"n": 2**70}) == b'{"n":1180591620717411303424}'
    with pytest.raises(TypeError):
        dumps({"x": object()})
    assert dumps({"x": object()}, default=lambda _: "o") == b'{"x":"o"}'


def test_dumps_refuses_a_value_too_deep_for_both_encoders_with_a_type_error() -> None:
    deep: list[Any] = []
    inner = deep
    for _ in range(100_000):  # past orjson's 254 levels and the standard encoder's recursion
        inner.append([])
        inner = inner[0]
    with pytest.raises(TypeError, match="nests too deep"):
        dumps(deep)


def test_loads_reports_text_that_is_not_json_as_a_value_error() -> None:
    with pytest.raises(ValueError, match=re.escape("expected ',' or ']'")):
        loads(b'{"a": [1, 2}', max_depth=10)


def test_loads_truncated_keeps_the_shallow_fields_of_a_deep_object() -> None:
    text = (
        '{"metadata": {"name": "deep", "labels": {"x": "y"}}, "status": {"phase": "Failed"}, '
        '"spec": ' + nested(10_000) + "}"
    )
    assert loads_truncated(text, keep_depth=2) == {
        "metadata": {"name": "deep", "labels": None},
        "status": {"phase": "Failed"},
        "spec": {"a": None},
    }


@given(JSON_VALUES, st.integers(min_value=0, max_value=4))
def test_loads_truncated_cuts_exactly_below_keep_depth(value: Any, keep: int) -> None:
    def cut(v: Any, level: int) -> Any:
        if isinstance(v, dict | list) and level > keep:
            return None
        if isinstance(v, dict):
            return {k: cut(x, level + 1) for k, x in v.items()}
        if isinstance(v, list):
            return [cut(x, level + 1) for x in v]
        return v

    assert loads_truncated(json.dumps(value), keep_depth=keep) == cut(value, 1)


def test_array_items_splits_a_list_whatever_its_items_hold() -> None:
    good = {"metadata": {"name": "a", "note": '"items": [{"x"'}, "spec": [[], {}]}
    deep = '{"metadata": {"name": "b"}, "spec": ' + nested(10_000) + "}"
    body = (
        '{"kind": "JobFlowList", "metadata": {"resourceVersion": "7", "x": {"items": [1]}}, '
        f'"items": [{json.dumps(good)}, {deep}, "not an object", [1]]}}'
    )
    head, items = array_items(body, field="items")
    assert json.loads(head) == {
        "kind": "JobFlowList",
        "metadata": {"resourceVersion": "7", "x": {"items": [1]}},
        "items": [],
    }
    assert len(items) == 2
    assert json.loads(items[0]) == good
    assert json_depth(items[1], limit=64) == 65


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"metadata": {}}', id="no-items"),
        pytest.param(b'{"items": {"a": 1}}', id="items-not-a-list"),
        pytest.param(b'{"items": [{"a": 1}', id="truncated"),
    ],
)
def test_array_items_refuses_what_is_not_such_a_list(body: bytes) -> None:
    with pytest.raises(ValueError, match="no array 'items'"):
        array_items(body, field="items")
