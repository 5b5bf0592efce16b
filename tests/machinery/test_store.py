"""Indexed store: get/list/keys, indexers kept consistent across upsert/delete/replace, indexers
added after objects exist, replace reporting added/updated/deleted (tombstones with last state)."""

from __future__ import annotations

import pytest

from tests.machinery.fakes import obj
from zenflow.machinery.store import NAMESPACE_INDEX, Obj, Store, namespace_index


def _color(o: Obj) -> list[str]:
    color = o["metadata"].get("labels", {}).get("color")
    return [color] if color else []


def test_upsert_get_delete_and_index_consistency() -> None:
    s = Store()
    s.add_indexer("color", _color)
    s.add_indexer(NAMESPACE_INDEX, namespace_index)
    assert s.upsert(obj("a", "1", labels={"color": "red"})) is None
    s.upsert(obj("b", "1", namespace="other", labels={"color": "red"}))
    assert [o["metadata"]["name"] for o in s.by_index("color", "red")] == ["a", "b"]
    old = s.upsert(obj("a", "2", labels={"color": "blue"}))
    assert old is not None
    assert old["metadata"]["resourceVersion"] == "1"
    assert s.index_keys("color", "red") == ["other/b"]
    assert s.index_keys("color", "blue") == ["ns/a"]
    assert s.index_keys(NAMESPACE_INDEX, "ns") == ["ns/a"]
    gone = s.delete("other/b")
    assert gone is not None
    assert gone["metadata"]["name"] == "b"
    assert s.index_keys("color", "red") == []
    assert s.delete("other/b") is None
    assert s.get("ns/a") is not None
    assert len(s) == 1
    assert "ns/a" in s


def test_indexer_added_later_indexes_existing_objects() -> None:
    s = Store()
    s.upsert(obj("a", "1", labels={"color": "red"}))
    s.add_indexer("color", _color)
    assert s.index_keys("color", "red") == ["ns/a"]
    with pytest.raises(ValueError, match="already exists"):
        s.add_indexer("color", _color)
    with pytest.raises(KeyError, match="no indexer"):
        s.by_index("size", "x")


def test_replace_reports_added_updated_and_tombstones() -> None:
    s = Store()
    s.add_indexer("color", _color)
    s.upsert(obj("keep", "1"))
    s.upsert(obj("gone", "3", labels={"color": "red"}))
    added, updated, deleted = s.replace([obj("keep", "2"), obj("new", "5")])
    assert [o["metadata"]["name"] for o in added] == ["new"]
    assert [
        (o["metadata"]["resourceVersion"], n["metadata"]["resourceVersion"]) for o, n in updated
    ] == [("1", "2")]
    assert [o["metadata"]["resourceVersion"] for o in deleted] == ["3"]  # last known state
    assert sorted(s.keys()) == ["ns/keep", "ns/new"]
    assert s.index_keys("color", "red") == []
