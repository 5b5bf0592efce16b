"""Rendering of a JobFlow's state (zenflow.display.flowview), from status snapshots:

- snapshot: spec order (steps then finally), defaults for steps without status, attempts from
  ``attempt`` or ``retryCount``, progress fallback, timestamps;
- render_table: header, one row per step, phase symbols, colour only when asked;
- transitions: one line per changed step and for the flow's phase, nothing when unchanged;
- render_graph: levels of the DAG with phases and dependencies;
- summary_lines and format_duration.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from zenflow.api.formats import parse_time
from zenflow.display import flowview

NOW = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)


def flow(status: dict[str, Any] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "workflow.zen.io/v1alpha1",
        "kind": "JobFlow",
        "metadata": {"name": "demo", "namespace": "default"},
        "spec": {
            "steps": [
                {"name": "fetch"},
                {"name": "left", "dependencies": ["fetch"]},
                {"name": "right", "dependencies": ["fetch"]},
                {"name": "join", "dependencies": ["left", "right"]},
            ],
            "finally": [{"name": "notify"}],
        },
    }
    if status is not None:
        obj["status"] = status
    return obj


RUNNING = {
    "phase": "Running",
    "progress": "1/5",
    "startTime": "2026-01-01T12:00:00Z",
    "steps": [
        {
            "name": "fetch",
            "phase": "Succeeded",
            "attempt": 1,
            "startTime": "2026-01-01T12:00:00Z",
            "completionTime": "2026-01-01T12:00:04Z",
        },
        {
            "name": "left",
            "phase": "Retrying",
            "retryCount": 1,
            "jobRef": "demo-left-1",
            "startTime": "2026-01-01T12:00:05Z",
            "message": "attempt 1 failed: exit code 1",
        },
        {"name": "right", "phase": "Running", "attempt": 1, "startTime": "2026-01-01T12:00:05Z"},
    ],
}


def test_snapshot_of_a_new_flow_shows_every_step_pending() -> None:
    view = flowview.snapshot(flow())
    assert [s.name for s in view.steps] == ["fetch", "left", "right", "join", "notify"]
    assert {s.phase for s in view.steps} == {"Pending"}
    assert (view.phase, view.progress) == ("Pending", "0/5")
    assert view.step("join") is not None
    assert view.step("join").dependencies == ("left", "right")  # type: ignore[union-attr]


def test_snapshot_reads_status() -> None:
    view = flowview.snapshot(flow(RUNNING))
    fetch, left = view.step("fetch"), view.step("left")
    assert fetch is not None
    assert left is not None
    assert (fetch.phase, fetch.attempt, fetch.duration(NOW)) == ("Succeeded", 1, 4.0)
    assert (left.phase, left.attempt, left.job) == ("Retrying", 2, "demo-left-1")
    assert left.duration(NOW) == 25.0
    assert (view.phase, view.progress, view.duration(NOW)) == ("Running", "1/5", 30.0)
    assert not view.finished_phase


def test_render_table_plain() -> None:
    lines = flowview.render_table(flowview.snapshot(flow(RUNNING)), now=NOW)
    assert lines[0] == "JobFlow default/demo  ▶ Running  progress 1/5  elapsed 30s"
    assert lines[1].split() == ["STEP", "PHASE", "ATTEMPT", "DURATION", "MESSAGE"]
    assert lines[2].split() == ["fetch", "✓", "Succeeded", "1", "4.0s"]
    assert lines[3].split()[:5] == ["left", "↻", "Retrying", "2", "25s"]
    assert lines[3].endswith("attempt 1 failed: exit code 1")
    assert lines[6].split() == ["notify", "·", "Pending", "-", "-"]
    assert not any("\x1b[" in line for line in lines)
    # Columns line up: every row's PHASE starts where the header's does.
    col = lines[1].index("PHASE")
    assert all(line[col - 2 : col] == "  " and line[col] != " " for line in lines[2:])


def test_render_table_colour() -> None:
    lines = flowview.render_table(flowview.snapshot(flow(RUNNING)), now=NOW, color=True)
    assert "\x1b[32m✓ Succeeded\x1b[0m" in lines[2]
    assert "\x1b[33m↻ Retrying\x1b[0m" in lines[3]


def test_transitions_list_changes_once() -> None:
    before = flowview.snapshot(flow())
    after = flowview.snapshot(flow(RUNNING))
    assert flowview.transitions(before, after) == [
        "step fetch: Pending -> Succeeded (attempt 1)",
        "step left: Pending -> Retrying (attempt 2): attempt 1 failed: exit code 1",
        "step right: Pending -> Running (attempt 1)",
        "flow demo: Pending -> Running (1/5)",
    ]
    assert flowview.transitions(after, after) == []


def test_transitions_from_nothing_skip_pending_steps() -> None:
    assert flowview.transitions(None, flowview.snapshot(flow())) == [
        "flow demo: - -> Pending (0/5)"
    ]


def test_render_graph_by_level() -> None:
    lines = flowview.render_graph(flowview.snapshot(flow(RUNNING)))
    assert lines == [
        "JobFlow default/demo  ▶ Running",
        "level 0",
        "  ✓ Succeeded  fetch",
        "  · Pending  notify",
        "level 1",
        "  ↻ Retrying  left  <- fetch",
        "  ▶ Running  right  <- fetch",
        "level 2",
        "  · Pending  join  <- left, right",
    ]


def test_summary_lines() -> None:
    status = {
        **RUNNING,
        "phase": "Failed",
        "reason": "StepFailed",
        "message": "step left failed",
        "completionTime": "2026-01-01T12:00:20Z",
    }
    lines = flowview.summary_lines(flowview.snapshot(flow(status)), now=NOW)
    assert lines[0] == "JobFlow default/demo Failed (StepFailed) in 20s"
    assert lines[1] == "  step left failed"
    assert lines[3].startswith("  left    Retrying (25s, 2 attempts) - attempt 1 failed")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(None, "-", id="none"),
        pytest.param(0.42, "0.4s", id="sub-second"),
        pytest.param(12.7, "12s", id="seconds"),
        pytest.param(185, "3m05s", id="minutes"),
        pytest.param(3720, "1h02m", id="hours"),
    ],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert flowview.format_duration(seconds) == text


def test_parse_time() -> None:
    assert parse_time("2026-01-01T12:00:00Z") == datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert parse_time("garbage") is None
    assert parse_time(None) is None
