"""What the SDK hands back about a submitted flow: ``FlowRun`` (phase, progress, conditions'
summary, steps) and ``StepRun`` (phase, reason, outputs, approvals), read from the object's
status.

Read defensively from the raw object (as ``kubectl`` does): a field a newer controller adds
never makes reading fail; a missing status reads as phase Pending with no steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from zenflow.api.formats import parse_time
from zenflow.api.status import FLOW_TERMINAL_PHASES

__all__ = ["FlowRun", "StepRun"]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class StepRun:
    """One step's state as the controller reported it."""

    name: str
    phase: str
    reason: str | None = None
    message: str | None = None
    outputs: Mapping[str, str] = field(default_factory=dict)
    attempt: int | None = None
    retry_count: int = 0
    job: str | None = None
    started: datetime | None = None
    finished: datetime | None = None
    approved_by: str | None = None

    @classmethod
    def from_status(cls, raw: Mapping[str, Any]) -> StepRun:
        attempt = raw.get("attempt")
        return cls(
            name=str(raw.get("name", "")),
            phase=str(raw.get("phase") or "Pending"),
            reason=_opt_str(raw.get("reason")),
            message=_opt_str(raw.get("message")),
            outputs={str(k): str(v) for k, v in _mapping(raw.get("outputs")).items()},
            attempt=int(attempt) if isinstance(attempt, int) else None,
            retry_count=int(raw.get("retryCount") or 0),
            job=_opt_str(raw.get("jobRef")),
            started=parse_time(raw.get("startTime")),
            finished=parse_time(raw.get("completionTime")),
            approved_by=_opt_str(raw.get("approvedBy")),
        )


@dataclass(frozen=True, slots=True)
class FlowRun:
    """A JobFlow as last read from the API server. ``raw`` is the whole object."""

    name: str
    namespace: str
    uid: str
    phase: str
    reason: str | None
    message: str | None
    progress: str | None
    steps: Mapping[str, StepRun]
    raw: Mapping[str, Any]

    @classmethod
    def from_object(cls, obj: Mapping[str, Any]) -> FlowRun:
        meta = _mapping(obj.get("metadata"))
        status = _mapping(obj.get("status"))
        steps = [StepRun.from_status(_mapping(s)) for s in status.get("steps") or []]
        return cls(
            name=str(meta.get("name", "")),
            namespace=str(meta.get("namespace", "")),
            uid=str(meta.get("uid", "")),
            phase=str(status.get("phase") or "Pending"),
            reason=_opt_str(status.get("reason")),
            message=_opt_str(status.get("message")),
            progress=_opt_str(status.get("progress")),
            steps={s.name: s for s in steps},
            raw=obj,
        )

    @property
    def finished(self) -> bool:
        """Succeeded or Failed (a retry may start it again)."""
        return self.phase in FLOW_TERMINAL_PHASES

    @property
    def succeeded(self) -> bool:
        return self.phase == "Succeeded"

    def step(self, name: str) -> StepRun:
        """The named step; ``KeyError`` naming the known steps if there is none."""
        try:
            return self.steps[name]
        except KeyError:
            raise KeyError(
                f"flow {self.name!r} has no step {name!r} (has {sorted(self.steps)})"
            ) from None

    def outputs(self, step: str) -> Mapping[str, str]:
        """The outputs a step published (empty until it succeeded)."""
        return self.step(step).outputs

    def fingerprint(self) -> tuple[Any, ...]:
        """What progress callbacks are called on a change of: phase, progress, step phases."""
        return (
            self.phase,
            self.progress,
            tuple((s.name, s.phase, s.attempt) for s in self.steps.values()),
        )
