"""The step statuses decided so far in one plan, with the views later decisions read kept up to
date on every write, so a 1,000-step flow is planned in linear time: phases and outputs (for
``{{ }}`` substitution), what ``when`` expressions see, and the steps that failed."""

from __future__ import annotations

from typing import Any

from zenflow.api.status import StepStatus


class StatusBoard(dict[str, StepStatus]):
    """``name → StepStatus`` plus derived views (only ``__setitem__`` is used to write)."""

    def __init__(self) -> None:
        super().__init__()
        self.phases: dict[str, str] = {}
        self.outputs: dict[str, dict[str, str]] = {}
        self.when_steps: dict[str, dict[str, Any]] = {}
        self.failed: dict[str, None] = {}
        """Names of Failed steps, in the order they were recorded."""

    def __setitem__(self, name: str, status: StepStatus) -> None:
        super().__setitem__(name, status)
        self.phases[name] = status.phase
        if status.outputs:
            self.outputs[name] = dict(status.outputs)
        else:
            self.outputs.pop(name, None)
        self.when_steps[name] = {
            "phase": status.phase,
            "outputs": dict(status.outputs or {}),
            "retries": status.retry_count or 0,
        }
        if status.phase == "Failed":
            self.failed[name] = None
        else:
            self.failed.pop(name, None)
