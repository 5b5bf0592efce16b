"""Informer (MACHINERY.md #10, 14, 15, 27): the cache is updated before handlers run; update
handlers get the previous cached object; deletes of unknown keys are dropped; relist tombstones
reach on_delete with the last known object; unchanged objects on relist are not re-delivered;
has_synced only after the first list is fully delivered; late handlers get the cache replayed;
a raising handler never stops delivery; owner references map a Job to its JobFlow key; objects
that could not be decoded or transformed are cached as placeholders, and counted;
``without_version`` compares two versions but for their resourceVersion."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from tests.machinery.fakes import ScriptedListerWatcher, event, gone_event, obj
from zenflow.api.constants import API_VERSION
from zenflow.errors import UnreachableError
from zenflow.machinery.backoff import Backoff
from zenflow.machinery.clock import FakeClock
from zenflow.machinery.informer import (
    OWNER_INDEX,
    Informer,
    owner_indexer,
    owner_key,
    without_version,
)
from zenflow.machinery.listwatch import UNDECODABLE, placeholder
from zenflow.machinery.metrics import machinery_metrics
from zenflow.machinery.store import Obj


class Recorder:
    """Records handler calls together with what the cache held at that moment."""

    def __init__(self, informer: Informer) -> None:
        self.informer = informer
        self.calls: list[tuple[Any, ...]] = []
        informer.add_event_handler(self.on_add, self.on_update, self.on_delete)

    def _cached_rv(self, o: Obj) -> str | None:
        cached = self.informer.store.get(f"{o['metadata']['namespace']}/{o['metadata']['name']}")
        return None if cached is None else cached["metadata"]["resourceVersion"]

    def on_add(self, o: Obj) -> None:
        self.calls.append(
            ("add", o["metadata"]["name"], o["metadata"]["resourceVersion"], self._cached_rv(o))
        )

    def on_update(self, old: Obj, new: Obj) -> None:
        self.calls.append(
            (
                "update",
                new["metadata"]["name"],
                old["metadata"]["resourceVersion"],
                new["metadata"]["resourceVersion"],
                self._cached_rv(new),
            )
        )

    def on_delete(self, o: Obj) -> None:
        self.calls.append(
            ("delete", o["metadata"]["name"], o["metadata"]["resourceVersion"], self._cached_rv(o))
        )


async def _run(
    lw: ScriptedListerWatcher, clock: FakeClock
) -> tuple[Informer, Recorder, asyncio.Task[None]]:
    informer = Informer(lw, clock=clock, backoff=Backoff(clock=clock, jitter=0.0))
    rec = Recorder(informer)
    task = asyncio.create_task(informer.run())
    await clock.settle()
    return informer, rec, task


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_cache_updated_before_handlers_and_update_gets_previous_object() -> None:
    lw = ScriptedListerWatcher(
        lists=deque([([obj("a", "1")], "10")]),
        watches=deque(
            [
                [
                    event("MODIFIED", obj("a", "11")),
                    event("ADDED", obj("b", "12")),
                    event("DELETED", obj("a", "13")),
                    event("DELETED", obj("never-seen", "14")),
                ]
            ]
        ),
    )
    clock = FakeClock()
    informer, rec, task = await _run(lw, clock)
    assert rec.calls == [
        ("add", "a", "1", "1"),
        ("update", "a", "1", "11", "11"),
        ("add", "b", "12", "12"),
        ("delete", "a", "13", None),  # removed from the cache before the handler ran
    ]
    assert informer.store.keys() == ["ns/b"]
    await _stop(task)


async def test_relist_after_gone_delivers_tombstone_with_last_known_object() -> None:
    lw = ScriptedListerWatcher(
        lists=deque(
            [
                ([obj("a", "1"), obj("b", "2"), obj("c", "3")], "10"),
                ([obj("b", "2"), obj("c", "30")], "40"),
            ]
        ),
        watches=deque([[event("MODIFIED", obj("a", "11")), gone_event()]]),
    )
    clock = FakeClock()
    _, rec, task = await _run(lw, clock)
    assert rec.calls[3:] == [
        ("update", "a", "1", "11", "11"),
        ("delete", "a", "11", None),  # tombstone: the last state we knew
        ("update", "c", "3", "30", "30"),  # b unchanged: not re-delivered
    ]
    await _stop(task)


async def test_has_synced_only_after_initial_list_delivered() -> None:
    lw = ScriptedListerWatcher(
        lists=deque([UnreachableError("refused"), ([obj("a", "1")], "10")]), watches=deque()
    )
    clock = FakeClock()
    informer = Informer(lw, clock=clock, backoff=Backoff(clock=clock, jitter=0.0))
    seen_synced_in_handler: list[bool] = []
    informer.add_event_handler(
        on_add=lambda o: seen_synced_in_handler.append(informer.has_synced())
    )
    task = asyncio.create_task(informer.run())
    await clock.settle()
    assert not informer.has_synced()
    waiter = asyncio.create_task(informer.wait_synced())
    await clock.advance_settled(0.8)
    assert informer.has_synced()
    assert seen_synced_in_handler == [False]  # handlers for the list ran before synced
    await asyncio.wait_for(waiter, 1)
    await _stop(task)


async def test_late_handler_gets_cache_replayed_and_raising_handler_is_contained() -> None:
    lw = ScriptedListerWatcher(
        lists=deque([([obj("a", "1")], "10")]),
        watches=deque([[event("ADDED", obj("b", "2"))]]),
    )
    clock = FakeClock()
    informer = Informer(lw, clock=clock)

    def explode(o: Obj) -> None:
        raise RuntimeError("handler bug")

    informer.add_event_handler(on_add=explode)
    task = asyncio.create_task(informer.run())
    await clock.settle()
    late: list[str] = []
    informer.add_event_handler(on_add=lambda o: late.append(o["metadata"]["name"]))
    assert sorted(late) == ["a", "b"]
    assert len(informer.store) == 2
    await _stop(task)


async def test_resync_redelivers_cached_objects_as_updates() -> None:
    lw = ScriptedListerWatcher(lists=deque([([obj("a", "1")], "10")]), watches=deque())
    clock = FakeClock()
    informer = Informer(lw, clock=clock, resync_period=30.0)
    rec = Recorder(informer)
    task = asyncio.create_task(informer.run())
    await clock.settle()
    await clock.advance_settled(30.0)
    assert rec.calls == [("add", "a", "1", "1"), ("update", "a", "1", "1", "1")]
    await _stop(task)


JOBFLOW_REF = {
    "apiVersion": "workflow.zen.io/v1alpha1",
    "kind": "JobFlow",
    "name": "flow",
    "uid": "u1",
}


@pytest.mark.parametrize(
    ("refs", "expected"),
    [
        pytest.param([JOBFLOW_REF], "ns/flow", id="jobflow-owner"),
        pytest.param(
            [{**JOBFLOW_REF, "name": "other"}, {**JOBFLOW_REF, "controller": True}],
            "ns/flow",
            id="controller-ref-preferred",
        ),
        pytest.param([{**JOBFLOW_REF, "kind": "CronJobFlow"}], None, id="other-kind"),
        pytest.param(
            [{**JOBFLOW_REF, "apiVersion": "workflow.zen.io/v2"}], None, id="other-version"
        ),
        pytest.param(None, None, id="no-owners"),
        pytest.param(["junk"], None, id="malformed-ref"),
    ],
)
def test_owner_key(refs: Any, expected: str | None) -> None:
    job = obj("flow-step-1", "1")
    if refs is not None:
        job["metadata"]["ownerReferences"] = refs
    assert owner_key(job, "JobFlow", api_version=API_VERSION) == expected


def test_owner_index_maps_jobs_to_their_flow() -> None:
    informer = Informer(ScriptedListerWatcher())
    informer.add_indexer(OWNER_INDEX, owner_indexer("JobFlow", api_version=API_VERSION))
    for name in ("s1", "s2"):
        job = obj(name, "1")
        job["metadata"]["ownerReferences"] = [JOBFLOW_REF]
        informer.apply("ADDED", job)
    informer.apply("ADDED", obj("stray", "1"))
    assert [o["metadata"]["name"] for o in informer.store.by_index(OWNER_INDEX, "ns/flow")] == [
        "s1",
        "s2",
    ]


def test_placeholders_are_cached_logged_and_counted() -> None:
    """An object the lister-watcher could not decode arrives as a placeholder: cached under its
    key like any object (so its controller hears of it), and counted per resource."""
    registry = CollectorRegistry()
    informer = Informer(ScriptedListerWatcher(), metrics=machinery_metrics(registry))
    seen: list[str] = []
    informer.add_event_handler(on_add=lambda o: seen.append(o["metadata"]["name"]))
    deep = placeholder(obj("deep", "2"), "the object nests more than 64 levels deep")
    assert deep is not None
    informer.replace([obj("a", "1"), deep], "2")
    informer.apply("ADDED", obj("b", "3"))
    assert seen == ["a", "deep", "b"]
    cached = informer.store.get("ns/deep")
    assert cached is not None
    assert cached[UNDECODABLE] == "the object nests more than 64 levels deep"
    count = registry.get_sample_value(
        "zenflow_informer_undecodable_objects_total", {"resource": informer.resource}
    )
    assert count == 1.0


def test_an_object_the_transform_chokes_on_becomes_a_placeholder() -> None:
    def transform(o: Obj) -> Obj:
        if o["metadata"]["name"] == "bad":
            raise RecursionError("maximum recursion depth exceeded")
        return o

    informer = Informer(ScriptedListerWatcher(), transform=transform)
    informer.replace([obj("bad", "1"), obj("good", "1")], "1")
    informer.apply("MODIFIED", obj("bad", "2"))
    bad = informer.store.get("ns/bad")
    assert bad is not None
    assert bad["metadata"]["resourceVersion"] == "2"
    assert bad[UNDECODABLE].startswith("transform failed: RecursionError(")
    assert informer.store.get("ns/good") == obj("good", "1")


def test_without_version_blanks_only_the_resource_version_and_edits_nothing() -> None:
    old: dict[str, Any] = {"metadata": {"name": "a", "resourceVersion": "1"}, "status": {"x": 1}}
    new: dict[str, Any] = {"metadata": {"name": "a", "resourceVersion": "2"}, "status": {"x": 1}}
    assert without_version(old) == without_version(new)
    assert without_version(old) != without_version({**new, "status": {"x": 2}})
    assert old["metadata"]["resourceVersion"] == "1"
    assert without_version({"kind": "X"}) == {"kind": "X", "metadata": {"resourceVersion": None}}
