"""Builders of JobFlow/CronJobFlow dicts (wire form) for validator tests."""

from __future__ import annotations

from typing import Any


def job(name: str, *deps: str, **extra: Any) -> dict[str, Any]:
    """A step with the run shorthand."""
    step: dict[str, Any] = {"name": name, "run": {"image": "busybox", "command": ["true"]}}
    if deps:
        step["dependencies"] = list(deps)
    step.update(extra)
    return step


def template(**pod_spec: Any) -> dict[str, Any]:
    """A Job template whose pod spec is ``pod_spec`` (defaults: one container, Never)."""
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [{"name": "main", "image": "busybox", "command": ["true"]}],
    }
    spec.update(pod_spec)
    return {"spec": {"template": {"spec": spec}}}


def flow(*steps: dict[str, Any], **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"steps": list(steps)}
    if "finally_" in spec:
        body["finally"] = spec.pop("finally_")
    body.update(spec)
    return {
        "apiVersion": "workflow.zen.io/v1alpha1",
        "kind": "JobFlow",
        "metadata": {"name": "test"},
        "spec": body,
    }


def cron(schedule: str | None = "0 2 * * *", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schedule": schedule,
        "jobFlowTemplate": {"spec": {"steps": [job("a")]}},
    }
    body.update(spec)
    return {
        "apiVersion": "workflow.zen.io/v1alpha1",
        "kind": "CronJobFlow",
        "metadata": {"name": "nightly"},
        "spec": body,
    }
