"""Reflector list+watch loop (MACHINERY.md #8 to #13) against a scripted ListerWatcher and a fake
clock: list then watch from the list's version with bookmarks and a 5-10 min server timeout;
a clean end re-watches without relisting; bookmarks only advance the version; 410 (event or
exception) relists; transient failures back off with jitter and re-watch from the last version;
an empty stream ending at once never hot-loops; a silent watch is cancelled by the stall timeout;
malformed lines never reach the sink and force a reconnect; streams are always closed."""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import AsyncGenerator
from typing import Any

import pytest

from tests.machinery.fakes import HANG, ScriptedListerWatcher, bookmark, event, gone_event, obj
from zenflow.errors import GoneError, KubeError, UnreachableError
from zenflow.machinery.backoff import Backoff
from zenflow.machinery.clock import FakeClock
from zenflow.machinery.reflector import Reflector


class RecordingSink:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def replace(self, items: list[dict[str, Any]], resource_version: str) -> None:
        self.calls.append(("replace", [o["metadata"]["name"] for o in items]))

    def apply(self, event_type: str, o: dict[str, Any]) -> None:
        self.calls.append((event_type, o["metadata"]["name"]))


class Harness:
    def __init__(self, lw: ScriptedListerWatcher, *, stall_timeout: float = 60.0) -> None:
        self.clock = FakeClock()
        self.lw = lw
        self.sink = RecordingSink()
        self.backoff = Backoff(clock=self.clock, jitter=0.0)
        self.reflector = Reflector(
            lw,
            self.sink,
            clock=self.clock,
            stall_timeout=stall_timeout,
            backoff=self.backoff,
            rng=random.Random(7),
        )
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Harness:
        self.task = asyncio.create_task(self.reflector.run())
        await self.clock.settle()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task
        assert self.lw.open_streams == self.lw.closed_streams


def _lw(
    lists: list[tuple[list[dict[str, Any]], str] | Exception],
    watches: list[list[object] | Exception],
) -> ScriptedListerWatcher:
    return ScriptedListerWatcher(lists=deque(lists), watches=deque(watches))


async def test_lists_then_watches_from_list_version_with_bookmarks_and_server_timeout() -> None:
    lw = _lw([([obj("a", "5")], "10")], [])
    async with Harness(lw) as h:
        assert h.sink.calls == [("replace", ["a"])]
        assert lw.list_calls == 1
        call = lw.watch_calls[0]
        assert call.resource_version == "10"
        assert call.allow_bookmarks is True
        assert 300 <= call.timeout_seconds <= 600


async def test_clean_end_rewatches_from_last_version_without_relist() -> None:
    lw = _lw([([], "10")], [[event("ADDED", obj("a", "11"))], [event("MODIFIED", obj("a", "12"))]])
    async with Harness(lw) as h:
        assert [c.resource_version for c in lw.watch_calls] == ["10", "11", "12"]
        assert lw.list_calls == 1
        assert h.sink.calls == [("replace", []), ("ADDED", "a"), ("MODIFIED", "a")]
        assert h.reflector.resource_version == "12"


async def test_bookmark_advances_version_and_reaches_no_sink() -> None:
    lw = _lw([([], "10")], [[bookmark("20"), bookmark("30")]])
    async with Harness(lw) as h:
        assert h.sink.calls == [("replace", [])]
        assert lw.watch_calls[-1].resource_version == "30"


@pytest.mark.parametrize(
    "watch",
    [
        pytest.param([event("ADDED", obj("b", "11")), gone_event()], id="error-event"),
        pytest.param(GoneError("410", status=410), id="exception-at-connect"),
        pytest.param(
            [event("ADDED", obj("b", "11")), GoneError("410", status=410)],
            id="exception-mid-stream",
        ),
    ],
)
async def test_gone_relists_and_never_retries_the_same_version(watch: object) -> None:
    lw = _lw([([obj("a", "5")], "10"), ([obj("c", "40")], "40")], [watch])  # type: ignore[list-item]
    async with Harness(lw) as h:
        assert lw.list_calls == 2  # at once: the clock never moved, so no backoff was waited
        assert h.sink.calls[-1] == ("replace", ["c"])
        versions = [c.resource_version for c in lw.watch_calls]
        assert versions[-1] == "40"
        assert versions.count("11") == 0  # nothing retried the expired version


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(UnreachableError("connection refused"), id="connection-refused"),
        pytest.param(KubeError("too many requests", status=429), id="429"),
        pytest.param(KubeError("internal", status=500), id="500"),
    ],
)
async def test_transient_failure_backs_off_then_rewatches_same_version(failure: Exception) -> None:
    lw = _lw([([], "10")], [failure, failure, failure])
    async with Harness(lw) as h:
        assert len(lw.watch_calls) == 1
        await h.clock.advance_settled(0.79)
        assert len(lw.watch_calls) == 1
        await h.clock.advance_settled(0.01)
        assert len(lw.watch_calls) == 2
        await h.clock.advance_settled(1.59)
        assert len(lw.watch_calls) == 2
        await h.clock.advance_settled(0.01)  # 0.8 doubled
        assert len(lw.watch_calls) == 3
        assert {c.resource_version for c in lw.watch_calls} == {"10"}
        assert lw.list_calls == 1


async def test_disconnect_mid_stream_resumes_from_last_delivered_version() -> None:
    lw = _lw(
        [([], "10")],
        [[event("ADDED", obj("a", "11")), UnreachableError("server disconnected")]],
    )
    async with Harness(lw) as h:
        await h.clock.advance_settled(2.0)
        assert [c.resource_version for c in lw.watch_calls] == ["10", "11"]
        assert lw.list_calls == 1


async def test_empty_stream_ending_at_once_does_not_hot_loop() -> None:
    lw = _lw([([], "10")], [[] for _ in range(100)])
    async with Harness(lw) as h:
        await h.clock.settle(50)
        assert len(lw.watch_calls) == 1  # waiting in backoff, not spinning
        await h.clock.advance_settled(0.8)
        assert len(lw.watch_calls) == 2


async def test_list_failure_backs_off_and_retries() -> None:
    lw = _lw([UnreachableError("refused"), ([], "10")], [])
    async with Harness(lw) as h:
        assert lw.list_calls == 1
        assert h.sink.calls == []
        await h.clock.advance_settled(0.8)
        assert lw.list_calls == 2
        assert h.sink.calls == [("replace", [])]


async def test_silent_watch_is_detected_by_stall_timeout_and_resumed() -> None:
    lw = _lw([([], "10")], [[event("ADDED", obj("a", "11")), HANG]])
    async with Harness(lw, stall_timeout=5.0) as h:
        assert len(lw.watch_calls) == 1
        await h.clock.advance_settled(4.9)
        assert len(lw.watch_calls) == 1
        await h.clock.advance_settled(0.1)  # stalled: stream cancelled and closed
        assert lw.closed_streams == 1
        await h.clock.advance_settled(0.8)  # then backoff, then resume from the last version
        assert [c.resource_version for c in lw.watch_calls] == ["10", "11"]
        assert lw.list_calls == 1


async def test_events_keep_the_stall_timer_from_firing() -> None:
    events: list[object] = [bookmark(str(20 + i)) for i in range(5)]
    lw = _lw([([], "10")], [])
    clock_ref: list[FakeClock] = []

    async def slow_stream() -> AsyncGenerator[object, None]:
        for e in events:
            await clock_ref[0].sleep(3.0)  # well under the 5 s stall timeout each time
            yield e
        await asyncio.Event().wait()

    lw.watch = lambda *a, **k: slow_stream()  # type: ignore[method-assign]
    h = Harness(lw, stall_timeout=5.0)
    clock_ref.append(h.clock)
    async with h:
        await h.clock.advance_settled(15.0, step=1.0)
        assert h.reflector.resource_version == "24"
        assert h.reflector.watches == 1


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("<html><body>502 Bad Gateway</body></html>", id="html-page"),
        pytest.param('{"type": "ADDED", "object": {"metadata"', id="truncated-json"),
        pytest.param(["ADDED"], id="json-array"),
        pytest.param({"type": "RENAMED", "object": obj("x", "11")}, id="unknown-type"),
        pytest.param({"type": "ADDED"}, id="no-object"),
        pytest.param({"type": "ADDED", "object": "text"}, id="object-not-dict"),
        pytest.param({"type": "ADDED", "object": {"metadata": {"name": "x"}}}, id="no-rv"),
        pytest.param(
            {"type": "ADDED", "object": {"metadata": {"resourceVersion": "11"}}}, id="no-name"
        ),
        pytest.param({"type": "ERROR", "object": {"code": 500, "message": "x"}}, id="error-500"),
    ],
)
async def test_malformed_lines_never_reach_the_sink_and_force_reconnect(line: object) -> None:
    lw = _lw([([], "10")], [[line, event("ADDED", obj("late", "12"))]])
    async with Harness(lw) as h:
        assert h.sink.calls == [("replace", [])]
        assert lw.closed_streams == 1
        await h.clock.advance_settled(1.6)
        assert len(lw.watch_calls) == 2
        assert lw.watch_calls[1].resource_version == "10"
        assert h.sink.calls == [("replace", [])]


def test_backoff_doubles_to_cap_with_jitter_and_resets_after_healthy_spell() -> None:
    clock = FakeClock()
    b = Backoff(clock=clock, rng=random.Random(1))
    waits = [b.next() for _ in range(8)]
    bases = [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0]
    for wait, base in zip(waits, bases, strict=True):
        assert base <= wait <= 2 * base
    assert len({round(w / base, 6) for w, base in zip(waits, bases, strict=True)}) > 1  # jitter
    clock.advance(121.0)
    assert 0.8 <= b.next() <= 1.6


async def test_list_items_without_identity_are_dropped_not_fatal() -> None:
    lw = _lw([([obj("a", "5"), {"metadata": {}}, {"kind": "x"}], "10")], [])
    async with Harness(lw) as h:
        assert h.sink.calls == [("replace", ["a"])]
        assert len(lw.watch_calls) == 1
