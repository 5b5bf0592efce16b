"""What makes the notifier look at a flow again: only changes a notification can be about
(phase, run, steps waiting or failed, delivery records), not a step merely progressing."""

from __future__ import annotations

from typing import Any

from zenflow.controller.notifications.setup import notable


def flow(phase: str, steps: dict[str, str], **status: Any) -> dict[str, Any]:
    return {
        "status": {
            "phase": phase,
            "startTime": "t0",
            "steps": [{"name": n, "phase": p} for n, p in steps.items()],
            **status,
        }
    }


def test_progress_is_not_notable_but_events_are() -> None:
    base = notable(flow("Running", {"a": "Running", "b": "Pending"}))
    assert notable(flow("Running", {"a": "Succeeded", "b": "Running"})) == base
    assert notable(flow("Running", {"a": "Failed", "b": "Pending"})) != base
    assert notable(flow("Running", {"a": "Running", "b": "Waiting"})) != base
    assert notable(flow("Succeeded", {"a": "Running", "b": "Pending"})) != base
    recorded = flow("Running", {"a": "Running"}, notifications=[{"key": "k", "state": "Delivered"}])
    assert notable(recorded) != notable(flow("Running", {"a": "Running"}))
    assert notable({}) == (None, None, (), ())
