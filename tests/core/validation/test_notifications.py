"""spec.notifications checks: unique names, exactly one sink, no event twice; the fields are
named in every message; a correct list passes."""

from __future__ import annotations

from typing import Any

from zenflow.core.validation.validator import validate_object

SECRET = {"urlFrom": {"secretKeyRef": {"name": "s", "key": "url"}}}


def jobflow(notifications: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "workflow.zen.io/v1alpha1",
        "kind": "JobFlow",
        "metadata": {"name": "n"},
        "spec": {
            "steps": [{"name": "a", "run": {"image": "busybox"}}],
            "notifications": notifications,
        },
    }


def test_valid_notifications_pass() -> None:
    report = validate_object(
        jobflow(
            [
                {"name": "hook", "events": ["Succeeded", "Failed"], "webhook": SECRET},
                {
                    "name": "chat",
                    "events": ["StepFailed", "Waiting"],
                    "slack": SECRET,
                    "timeoutSeconds": 5,
                    "retry": {"limit": 2, "backoff": {"duration": "500ms"}},
                },
            ]
        )
    )
    assert report.ok, report.summary()


def test_problems_are_named() -> None:
    report = validate_object(
        jobflow(
            [
                {"name": "x", "events": ["Failed", "Failed"], "webhook": SECRET, "slack": SECRET},
                {"name": "x", "events": ["Succeeded"]},
            ]
        )
    )
    assert [str(p) for p in report.errors] == [
        "spec.notifications[0]: exactly one sink is needed: webhook or slack (got webhook and "
        "slack)",
        "spec.notifications[0].events: event Failed is listed twice",
        "spec.notifications[1].name: duplicate notification name 'x'",
        "spec.notifications[1]: exactly one sink is needed: webhook or slack (got none)",
    ]


def test_unknown_event_is_a_shape_error() -> None:
    report = validate_object(jobflow([{"name": "x", "events": ["Done"], "webhook": SECRET}]))
    assert any(str(p).startswith("spec.notifications[0].events[0]") for p in report.errors), (
        report.errors
    )
