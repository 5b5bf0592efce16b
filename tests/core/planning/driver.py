"""Builders for planner tests: a parsed JobFlow, Job records, and a step-by-step driver that
feeds each plan's status back in as the next previous status (as the controller does)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from zenflow.api.jobflow import JobFlow
from zenflow.api.status import JobFlowStatus
from zenflow.core.observed import JobPhase, JobRecord, Observed
from zenflow.core.planning.plan import Plan, plan

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
UID = "uid-1"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def job(name: str, *deps: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "run": {"image": "busybox", "command": ["true"]}}
    if deps:
        body["dependencies"] = list(deps)
    body.update(extra)
    return body


def make_flow(
    *steps: dict[str, Any],
    name: str = "f",
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    **spec: Any,
) -> JobFlow:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": "ns",
        "uid": UID,
        "generation": 1,
        "creationTimestamp": "2026-01-01T12:00:00Z",
    }
    if annotations:
        meta["annotations"] = annotations
    if labels:
        meta["labels"] = labels
    body = {"steps": list(steps), **spec}
    if "finally_" in body:
        body["finally"] = body.pop("finally_")
    return JobFlow.model_validate(
        {
            "apiVersion": "workflow.zen.io/v1alpha1",
            "kind": "JobFlow",
            "metadata": meta,
            "spec": body,
        }
    )


def record(
    step: str,
    phase: JobPhase,
    *,
    attempt: int = 1,
    retry_count: int = 0,
    flow: str = "f",
    finished: float | None = 0.0,
    reason: str | None = None,
    owned: bool = True,
    shard: int | None = None,
) -> JobRecord:
    middle = step if shard is None else f"{step}-{shard}"
    return JobRecord(
        name=f"{flow}-{middle}-{attempt}",
        shard=shard,
        step=step,
        attempt=attempt,
        phase=phase,
        owned=owned,
        retry_count=retry_count,
        reason=reason
        if reason is not None
        else ("BackoffLimitExceeded" if phase == "Failed" else None),
        message="Job has reached the specified backoff limit" if phase == "Failed" else None,
        created=T0,
        finished=at(finished) if phase != "Running" and finished is not None else None,
    )


class Driver:
    """Plans a flow repeatedly, carrying the status forward, with Jobs set by the test."""

    def __init__(self, flow: JobFlow) -> None:
        self.flow = flow
        self.jobs: dict[str, list[JobRecord]] = {}
        self.created: list[str] = []

    def set(self, *records: JobRecord) -> None:
        for r in records:
            kept = [
                j for j in self.jobs.get(r.step, []) if (j.attempt, j.shard) != (r.attempt, r.shard)
            ]
            self.jobs[r.step] = [*kept, r]

    def step(self, now: datetime = T0, **observed: Any) -> Plan:
        result = plan(self.flow, Observed(jobs=self.jobs, **observed), now)
        self.created += [c.manifest["metadata"]["name"] for c in result.creates]
        for c in result.creates:
            shard = c.manifest["metadata"]["labels"].get("workflow.zen.io/shard")
            self.set(
                record(
                    c.step,
                    "Running",
                    attempt=c.attempt,
                    flow=self.flow.name,
                    shard=int(shard) if shard is not None else None,
                )
            )
        self.flow = self.flow.model_copy(update={"status": result.status})
        return result

    def status(self) -> JobFlowStatus:
        status = self.flow.status
        assert status is not None
        return status

    def phases(self) -> dict[str, str]:
        status = self.flow.status
        assert status is not None
        return {s.name: s.phase for s in status.steps or []}

    def step_status(self, name: str) -> Any:
        status = self.flow.status
        assert status is not None
        return next(s for s in status.steps or [] if s.name == name)
