"""What a page is sent (zenflow.ui.views), from raw objects:

- a flow summary counts steps from the spec when there is no status yet, and waiting gates;
- step views keep spec order (steps, then finally), merge the status, carry shards and never
  copy templates, env or commands;
- malformed objects give defaults instead of errors;
- the layout is cached per (uid, generation);
- a CronJobFlow view has its next time (none when suspended), newest runs first, and the
  schedule problem.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from zenflow.ui.views import FlowViews, cron_view, flow_summary, step_views

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _flow(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "ns", "name": "f", "uid": "u1", "generation": 1},
        "spec": {
            "steps": [
                {
                    "name": "a",
                    "run": {"image": "busybox", "command": ["echo", "SECRET"]},
                    "env": [{"name": "TOKEN", "value": "SECRET"}],
                },
                {"name": "gate", "type": "Manual", "message": "ship?", "dependencies": ["a"]},
                {
                    "name": "m",
                    "dependencies": ["gate"],
                    "matrix": {"region": ["eu", "us"]},
                    "retryPolicy": {"limit": 2},
                },
            ],
            "finally": [{"name": "cleanup"}],
        },
        "status": status,
    }


def test_summary_without_status_counts_declared_steps() -> None:
    s = flow_summary(_flow())
    assert (s["phase"], s["progress"], s["total"], s["waiting"]) == ("Pending", "0/4", 4, 0)


def test_summary_counts_waiting_gates() -> None:
    s = flow_summary(_flow(phase="Running", steps=[{"name": "gate", "phase": "Waiting"}]))
    assert (s["phase"], s["waiting"]) == ("Running", 1)


def test_step_views_merge_status_in_spec_order_without_templates() -> None:
    obj = _flow(
        steps=[
            {
                "name": "m",
                "phase": "Running",
                "attempt": 2,
                "retryCount": 1,
                "shards": [{"index": 0, "phase": "Succeeded"}, {"index": 1, "phase": "Running"}],
            },
            {"name": "a", "phase": "Succeeded", "outputs": {"x": "1"}},
        ]
    )
    views = step_views(obj)
    assert [v["name"] for v in views] == ["a", "gate", "m", "cleanup"]
    by = {v["name"]: v for v in views}
    assert by["a"]["outputs"] == {"x": "1"}
    assert by["a"]["image"] == "busybox"
    assert by["gate"]["type"] == "Manual"
    assert by["gate"]["gate"] == "ship?"
    assert by["m"]["matrix"] == ["region"]
    assert by["m"]["retryLimit"] == 2
    assert [s["phase"] for s in by["m"]["shards"]] == ["Succeeded", "Running"]
    assert by["cleanup"]["finally"]
    assert by["cleanup"]["phase"] == "Pending"
    assert "SECRET" not in json.dumps(views)


def test_malformed_objects_give_defaults() -> None:
    weird = {"metadata": "x", "spec": {"steps": [None, {"name": 3}, "y"]}, "status": []}
    assert flow_summary(weird)["phase"] == "Pending"
    assert isinstance(step_views(weird), list)


def test_layout_is_cached_per_uid_and_generation() -> None:
    views = FlowViews()
    first = views.layout_of(_flow())
    assert views.layout_of(_flow(phase="Running")) is first
    newer = _flow()
    newer["metadata"]["generation"] = 2
    assert views.layout_of(newer) is not first
    assert [n["name"] for n in views.detail(_flow())["layout"]["nodes"]] == [
        "a",
        "gate",
        "m",
        "cleanup",
    ]


def _cron(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "ns", "name": "nightly"},
        "spec": {"schedule": "0 2 * * *", "jobFlowTemplate": {"spec": {}}, **spec},
        "status": {"lastScheduleTime": "2026-01-01T02:00:00Z", "active": [{"name": "r2"}]},
    }


def _run(name: str, created: str) -> dict[str, Any]:
    return {"metadata": {"namespace": "ns", "name": name, "creationTimestamp": created}}


def test_cron_view_next_time_and_newest_runs_first() -> None:
    runs = [_run("r1", "2025-12-31T02:00:00Z"), _run("r2", "2026-01-01T02:00:00Z")]
    view = cron_view(_cron(timeZone="Europe/Paris"), runs, now=NOW)
    assert view["nextSchedule"] == "2026-01-02T01:00:00+00:00"  # 02:00 in Paris
    assert [r["name"] for r in view["runs"]] == ["r2", "r1"]
    assert view["active"] == ["r2"]
    assert view["runCount"] == 2


def test_cron_view_suspended_or_invalid() -> None:
    assert cron_view(_cron(suspend=True), [], now=NOW)["nextSchedule"] is None
    bad = cron_view(_cron(schedule="not a schedule"), [], now=NOW)
    assert bad["nextSchedule"] is None
    assert bad["problem"]
