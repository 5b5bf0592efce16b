"""The Event recorder (zenflow.controller.events) and its series (zenflow.controller.eventseries):
the core/v1 Event it builds about a JobFlow (or a CronJobFlow); repeats of one (object, type,
reason) aggregated into one stored Event's count (first write after the gather delay, later
ones merge-patched at most once an interval, a new Event when the stored one is gone); urgent
occurrences (Warnings, a flow's final Event) written at once with everything pending about the
object; the spam budget folding writes beyond it into later counts; a failing write logged and
counted without stopping the recorder; ``flush`` writing everything now. Time is a FakeClock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.core.planning.driver import T0
from zenflow.controller.events import EventRecorder, build_event
from zenflow.controller.eventseries import SPAM_BURST, SPAM_REFILL_S, fold_messages
from zenflow.core.planning.flowstatus import EventSpec
from zenflow.errors import NotFoundError
from zenflow.machinery.clock import FakeClock

FLOW = {"metadata": {"name": "f", "namespace": "ns", "uid": "u", "resourceVersion": "7"}}
OTHER = {"metadata": {"name": "g", "namespace": "ns", "uid": "v", "resourceVersion": "8"}}
SPEC = EventSpec("Warning", "StepFailed", 'step "a" failed')


def started(step: str) -> EventSpec:
    return EventSpec("Normal", "StepStarted", f'step "{step}" started')


def succeeded(step: str) -> EventSpec:
    return EventSpec("Normal", "StepSucceeded", f'step "{step}" succeeded')


@dataclass
class Sink:
    """Stores Events like the API server: by name, with the writes seen in order."""

    stored: dict[str, dict[str, Any]] = field(default_factory=dict)
    writes: list[tuple[str, str]] = field(default_factory=list)
    fail_reason: str | None = None

    async def create_event(self, *, namespace: str, event: dict[str, Any]) -> None:
        if event["reason"] == self.fail_reason:
            raise RuntimeError("write failed")
        self.writes.append(("create", event["reason"]))
        self.stored[event["metadata"]["name"]] = dict(event)

    async def patch_event(self, *, namespace: str, name: str, patch: dict[str, Any]) -> None:
        if name not in self.stored:
            raise NotFoundError(f"events {name} not found", status=404)
        self.writes.append(("patch", self.stored[name]["reason"]))
        self.stored[name].update(patch)

    def by_reason(self, reason: str) -> list[dict[str, Any]]:
        return [e for e in self.stored.values() if e["reason"] == reason]


@dataclass
class Rig:
    clock: FakeClock
    sink: Sink
    recorder: EventRecorder

    async def advance(self, seconds: float) -> None:
        await self.clock.advance_settled(seconds, step=0.25)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    clock = FakeClock(wall_start=T0)
    sink = Sink()
    recorder = EventRecorder(sink, clock=clock, gather_s=1.0, interval_s=30.0)
    task = asyncio.create_task(recorder.run())
    await clock.settle()
    try:
        yield Rig(clock, sink, recorder)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_build_event() -> None:
    event = build_event(flow=FLOW, spec=SPEC, now=T0)
    assert event["involvedObject"] == {
        "apiVersion": "workflow.zen.io/v1alpha1",
        "kind": "JobFlow",
        "name": "f",
        "namespace": "ns",
        "uid": "u",
        "resourceVersion": "7",
    }
    assert (event["type"], event["reason"], event["count"]) == ("Warning", "StepFailed", 1)
    assert event["metadata"]["name"].startswith("f.")
    assert event["firstTimestamp"] == "2026-01-01T12:00:00Z"


def test_build_event_about_a_cronjobflow() -> None:
    event = build_event(flow=FLOW, spec=SPEC, now=T0, kind="CronJobFlow")
    assert (event["involvedObject"]["kind"], event["involvedObject"]["uid"]) == ("CronJobFlow", "u")


async def test_repeats_within_the_gather_delay_are_one_event_with_their_count(rig: Rig) -> None:
    for step in ("m0", "m1", "m2"):
        rig.recorder.record(flow=FLOW, spec=started(step))
    rig.recorder.record(flow=FLOW, spec=started("m0"))  # the same message again: counted
    await rig.advance(0.75)
    assert rig.sink.writes == []  # still gathering
    await rig.advance(0.5)
    (event,) = rig.sink.by_reason("StepStarted")
    assert event["count"] == 4
    assert event["message"] == 'step "m0" started; step "m1" started; step "m2" started'
    assert event["firstTimestamp"] == "2026-01-01T12:00:00Z"
    assert rig.recorder.idle()
    assert (rig.recorder.recorded, rig.recorder.created, rig.recorder.patched) == (4, 1, 0)


async def test_later_repeats_patch_the_stored_event_once_an_interval(rig: Rig) -> None:
    rig.recorder.record(flow=FLOW, spec=started("a"))
    await rig.advance(1.25)
    for step in ("b", "c", "d"):
        await rig.advance(2)
        rig.recorder.record(flow=FLOW, spec=started(step))
    await rig.advance(20)
    assert rig.sink.writes == [("create", "StepStarted")]  # not yet 30 s after the first write
    await rig.advance(5)
    assert rig.sink.writes == [("create", "StepStarted"), ("patch", "StepStarted")]
    (event,) = rig.sink.by_reason("StepStarted")
    assert event["count"] == 4
    assert event["message"].endswith('step "d" started')
    assert event["lastTimestamp"] == "2026-01-01T12:00:07Z"


async def test_a_final_event_writes_everything_pending_about_its_object_at_once(rig: Rig) -> None:
    rig.recorder.record(flow=FLOW, spec=started("a"))
    rig.recorder.record(flow=OTHER, spec=started("x"))
    await rig.advance(1.25)
    rig.recorder.record(flow=FLOW, spec=started("b"))
    rig.recorder.record(flow=FLOW, spec=succeeded("a"))
    rig.recorder.record(flow=FLOW, spec=succeeded("b"))
    rig.recorder.record(flow=OTHER, spec=started("y"))
    rig.recorder.record(flow=FLOW, spec=EventSpec("Normal", "FlowSucceeded", "done", final=True))
    await rig.clock.settle()
    assert sorted(rig.sink.writes) == [
        ("create", "FlowSucceeded"),
        ("create", "StepStarted"),
        ("create", "StepStarted"),  # OTHER's, from before
        ("create", "StepSucceeded"),
        ("patch", "StepStarted"),
    ]
    assert [e["count"] for e in rig.sink.by_reason("StepSucceeded")] == [2]
    assert rig.recorder.idle() is False  # OTHER's second start waits for its interval


async def test_warnings_are_written_at_once(rig: Rig) -> None:
    rig.recorder.record(flow=FLOW, spec=SPEC)
    await rig.clock.settle()
    assert rig.sink.writes == [("create", "StepFailed")]


async def test_spam_beyond_the_budget_folds_into_later_counts(rig: Rig) -> None:
    for i in range(SPAM_BURST + 5):
        rig.recorder.record(flow=FLOW, spec=EventSpec("Warning", "JobCreateFailed", f"try {i}"))
        await rig.clock.settle()
    assert len(rig.sink.writes) == SPAM_BURST
    (event,) = rig.sink.by_reason("JobCreateFailed")
    assert event["count"] == SPAM_BURST
    await rig.advance(SPAM_REFILL_S + 1)
    assert len(rig.sink.writes) == SPAM_BURST + 1
    (event,) = rig.sink.by_reason("JobCreateFailed")
    assert event["count"] == SPAM_BURST + 5
    assert event["message"].endswith("try 29")


async def test_a_deleted_event_is_stored_anew_with_the_whole_count(rig: Rig) -> None:
    rig.recorder.record(flow=FLOW, spec=started("a"))
    await rig.advance(1.25)
    rig.sink.stored.clear()  # expired on the server
    rig.recorder.record(flow=FLOW, spec=started("b"))
    await rig.recorder.flush()
    (event,) = rig.sink.by_reason("StepStarted")
    assert event["count"] == 2
    assert rig.recorder.created == 2


async def test_a_failing_write_is_counted_and_the_recorder_goes_on(rig: Rig) -> None:
    rig.sink.fail_reason = "Boom"
    rig.recorder.record(flow=FLOW, spec=EventSpec("Warning", "Boom", "x"))
    rig.recorder.record(flow=FLOW, spec=SPEC)
    await rig.recorder.flush()
    assert [r for _, r in rig.sink.writes] == ["StepFailed"]
    assert (rig.recorder.failed, rig.recorder.written) == (1, 1)
    assert rig.recorder.idle()


async def test_flush_writes_what_waits_for_its_delay(rig: Rig) -> None:
    rig.recorder.record(flow=FLOW, spec=started("a"))
    await rig.advance(1.25)
    rig.recorder.record(flow=FLOW, spec=started("b"))
    rig.recorder.record(flow=OTHER, spec=started("x"))
    await rig.recorder.flush()
    assert sorted(rig.sink.writes) == [
        ("create", "StepStarted"),
        ("create", "StepStarted"),
        ("patch", "StepStarted"),
    ]
    assert rig.recorder.idle()


async def test_a_full_table_drops_new_series_and_counts_them() -> None:
    clock = FakeClock(wall_start=T0)
    recorder = EventRecorder(Sink(), clock=clock, capacity=2)
    recorder.record(flow=FLOW, spec=started("a"))
    recorder.record(flow=FLOW, spec=succeeded("a"))
    recorder.record(flow=OTHER, spec=started("x"))  # both series pending: no room
    recorder.record(flow=FLOW, spec=started("b"))  # an existing series still counts
    assert (recorder.dropped, recorder.recorded) == (1, 3)


def test_messages_fold_from_the_oldest_side() -> None:
    messages = [f"step {i:03d} succeeded" for i in range(100)]
    text = fold_messages(messages, limit=200)
    assert len(text) <= 200
    assert text.endswith("step 099 succeeded")
    assert text.startswith("(")
    assert fold_messages(["a", "b"], earlier=3) == "(3 earlier) a; b"
