"""The Event recorder (zenflow.controller.events): the core/v1 Event it builds about a JobFlow
(or a CronJobFlow), and that recording never blocks (a full queue drops and counts) while
``run`` writes queued Events through the sink and survives a failing write."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from tests.core.planning.driver import T0
from zenflow.controller.events import EventRecorder, build_event
from zenflow.core.planning.flowstatus import EventSpec

FLOW = {"metadata": {"name": "f", "namespace": "ns", "uid": "u", "resourceVersion": "7"}}
SPEC = EventSpec("Warning", "StepFailed", 'step "a" failed')


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


async def test_recorder_writes_in_the_background_and_drops_when_full() -> None:
    written: list[dict[str, Any]] = []

    async def sink(namespace: str, event: dict[str, Any]) -> None:
        if event["reason"] == "Boom":
            raise RuntimeError("write failed")
        written.append(event)

    recorder = EventRecorder(sink, capacity=2)
    recorder.record(flow=FLOW, spec=EventSpec("Normal", "Boom", "x"))
    recorder.record(flow=FLOW, spec=SPEC)
    recorder.record(flow=FLOW, spec=SPEC)  # queue full: dropped
    assert recorder.dropped == 1
    task = asyncio.create_task(recorder.run())
    await asyncio.wait_for(recorder.flush(), 5)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert [e["reason"] for e in written] == ["StepFailed"]
    assert recorder.written == 1
