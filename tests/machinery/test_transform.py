"""Informer transforms (unit): ``strip_unused_metadata`` drops ``metadata.managedFields`` and
the last-applied annotation and keeps everything else; the ``Interner`` shares equal keys and
short values between objects (long values left alone) with a bounded table; an informer built
with a transform caches only transformed objects — from the list, watch adds/updates/deletes
and a relist — and its handlers (update: both old and new, delete, relist tombstones) only ever
see transformed objects; ``build_informers`` gives all three controller informers the stripper
by default."""

from __future__ import annotations

import asyncio
import copy
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kubernetes_asyncio import client
from prometheus_client import CollectorRegistry

from tests.machinery.fakes import ScriptedListerWatcher, event, gone_event, obj
from zenflow.controller.bootstrap import build_informers
from zenflow.kube.listwatch import KubeListerWatcher
from zenflow.machinery.clock import FakeClock
from zenflow.machinery.informer import Informer
from zenflow.machinery.store import Obj
from zenflow.machinery.transform import (
    INTERN_MAX_LEN,
    LAST_APPLIED_ANNOTATION,
    Interner,
    SpecSharing,
    strip_unused_metadata,
)

MANAGED = [{"manager": "kubectl", "operation": "Update", "fieldsV1": {"f:spec": {}}}]


def heavy(name: str, rv: str, **extra: Any) -> dict[str, Any]:
    """A cached-looking object carrying managedFields and a last-applied annotation."""
    o = obj(
        name,
        rv,
        managedFields=copy.deepcopy(MANAGED),
        annotations={LAST_APPLIED_ANNOTATION: '{"big": "json"}', "keep": "me"},
        **extra,
    )
    o["data"] = {"v": rv}
    return o


def is_stripped(o: Obj) -> bool:
    meta = o["metadata"]
    return "managedFields" not in meta and LAST_APPLIED_ANNOTATION not in (
        meta.get("annotations") or {}
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param(
            {"metadata": {"name": "a", "managedFields": MANAGED, "labels": {"l": "1"}}},
            {"metadata": {"name": "a", "labels": {"l": "1"}}},
            id="managed-fields",
        ),
        pytest.param(
            {"metadata": {"name": "a", "annotations": {LAST_APPLIED_ANNOTATION: "{}", "k": "v"}}},
            {"metadata": {"name": "a", "annotations": {"k": "v"}}},
            id="last-applied-other-annotations-kept",
        ),
        pytest.param(
            {"metadata": {"name": "a", "annotations": {LAST_APPLIED_ANNOTATION: "{}"}}},
            {"metadata": {"name": "a"}},
            id="last-applied-only",
        ),
        pytest.param(
            {"metadata": {"name": "a"}, "spec": {"managedFields": 1}, "status": {"p": "x"}},
            {"metadata": {"name": "a"}, "spec": {"managedFields": 1}, "status": {"p": "x"}},
            id="nothing-to-strip-spec-untouched",
        ),
        pytest.param({"kind": "Status"}, {"kind": "Status"}, id="no-metadata"),
        pytest.param(
            {"metadata": {"name": "a", "annotations": None}},
            {"metadata": {"name": "a", "annotations": None}},
            id="null-annotations",
        ),
    ],
)
def test_strip_unused_metadata(given: dict[str, Any], expected: dict[str, Any]) -> None:
    assert strip_unused_metadata(copy.deepcopy(given)) == expected


def test_interner_shares_equal_strings_between_objects() -> None:
    interner = Interner()
    one = {"".join(["dep", "endencies"]): [{"".join(["na", "me"]): "".join(["x", "y"])}], "n": 1}
    two = {"".join(["dep", "endencies"]): [{"".join(["na", "me"]): "".join(["x", "y"])}], "n": 1}
    long_one, long_two = "z" * (INTERN_MAX_LEN + 1), "".join(["z"] * (INTERN_MAX_LEN + 1))
    a = interner.strings({**one, "script": long_one})
    b = interner.strings({**two, "script": long_two})
    assert a == b == {"dependencies": [{"name": "xy"}], "n": 1, "script": long_one}
    assert next(iter(a)) is next(iter(b))  # keys
    assert a["dependencies"][0]["name"] is b["dependencies"][0]["name"]  # short values
    assert a["script"] is not b["script"]  # long values are left alone


def test_interner_table_is_bounded() -> None:
    interner = Interner(size=3)
    for i in range(10):
        interner.string(f"uid-{i}")
        assert len(interner) <= 3
    kept = interner.string("".join(["uid", "-9"]))
    assert kept == "uid-9"


class Seen:
    """Every object each handler received, and whether the cache held it stripped then."""

    def __init__(self, informer: Informer) -> None:
        self.informer = informer
        self.calls: list[tuple[str, ...]] = []
        self.objects: list[Obj] = []
        informer.add_event_handler(self.on_add, self.on_update, self.on_delete)

    def on_add(self, o: Obj) -> None:
        self.objects.append(o)
        self.calls.append(("add", o["metadata"]["name"], o["metadata"]["resourceVersion"]))

    def on_update(self, old: Obj, new: Obj) -> None:
        self.objects += [old, new]
        self.calls.append(
            (
                "update",
                new["metadata"]["name"],
                old["metadata"]["resourceVersion"],
                new["metadata"]["resourceVersion"],
                old["data"]["v"],
                new["data"]["v"],
            )
        )

    def on_delete(self, o: Obj) -> None:
        self.objects.append(o)
        self.calls.append(("delete", o["metadata"]["name"], o["metadata"]["resourceVersion"]))


async def test_informer_caches_and_delivers_only_transformed_objects() -> None:
    lw = ScriptedListerWatcher(
        lists=deque(
            [
                ([heavy("a", "1"), heavy("b", "2")], "10"),
                ([heavy("b", "20")], "40"),  # relist: a gone (tombstone), b changed
            ]
        ),
        watches=deque(
            [
                [
                    event("MODIFIED", heavy("a", "11")),
                    event("ADDED", heavy("c", "12")),
                    event("DELETED", heavy("c", "13")),
                    gone_event(),
                ]
            ]
        ),
    )
    clock = FakeClock()
    informer = Informer(lw, clock=clock, transform=strip_unused_metadata)
    seen = Seen(informer)
    task = asyncio.create_task(informer.run())
    await clock.settle()
    assert seen.calls == [
        ("add", "a", "1"),
        ("add", "b", "2"),
        ("update", "a", "1", "11", "1", "11"),
        ("add", "c", "12"),
        ("delete", "c", "13"),
        ("delete", "a", "11"),  # relist tombstone: the last (stripped) state
        ("update", "b", "2", "20", "2", "20"),
    ]
    assert all(is_stripped(o) for o in seen.objects)
    assert all(o["metadata"]["annotations"] == {"keep": "me"} for o in seen.objects)
    assert [o["metadata"]["name"] for o in informer.store.list()] == ["b"]
    assert all(is_stripped(o) for o in informer.store.list())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_informer_without_transform_caches_objects_as_sent() -> None:
    lw = ScriptedListerWatcher(lists=deque([([heavy("a", "1")], "10")]), watches=deque())
    clock = FakeClock()
    informer = Informer(lw, clock=clock)
    task = asyncio.create_task(informer.run())
    await clock.settle()
    cached = informer.store.get("ns/a")
    assert cached is not None
    assert cached["metadata"]["managedFields"] == MANAGED
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_equal_specs_are_shared_and_the_rest_is_stripped() -> None:
    def flow(name: str, rv: str, step: str) -> Obj:
        o = heavy(name, rv)
        o["spec"] = {"steps": [{"name": step}]}
        return o

    share = SpecSharing(size=2)
    one = share(flow("a", "1", "s"))
    two = share(flow("b", "2", "s"))
    other = share(flow("c", "3", "t"))
    assert one["spec"] is two["spec"]
    assert other["spec"] is not one["spec"]
    assert is_stripped(one)
    assert is_stripped(two)
    assert (one["metadata"]["name"], two["metadata"]["name"]) == ("a", "b")
    share(flow("d", "4", "u"))
    assert len(share) == 2  # bounded: the least recently seen forgotten
    assert share({"metadata": {"name": "x"}}) == {"metadata": {"name": "x"}}


@pytest.fixture
async def api() -> AsyncIterator[client.ApiClient]:
    api = client.ApiClient(client.Configuration(host="https://127.0.0.1:1"))
    try:
        yield api
    finally:
        await api.close()


async def test_build_informers_strips_by_default(api: client.ApiClient) -> None:
    informers = build_informers(api, namespace="ns", registry=CollectorRegistry())
    assert all(isinstance(i.reflector._lw, KubeListerWatcher) for i in informers.all())
    for informer in informers.all():
        informer.apply("ADDED", heavy("a", "1"))
        cached = informer.store.get("ns/a")
        assert cached is not None, informer.resource
        assert is_stripped(cached), informer.resource
    kept = build_informers(
        api, namespace="ns", registry=CollectorRegistry(), transform=None, job_transform=None
    )
    kept.jobs.apply("ADDED", heavy("a", "1"))
    cached = kept.jobs.store.get("ns/a")
    assert cached is not None
    assert "managedFields" in cached["metadata"]
