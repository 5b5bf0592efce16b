"""Whether a step that has not started runs, is skipped, or waits (DESIGN.md "Step readiness").

A step is considered once all its dependencies are terminal. Without ``when`` it runs iff each
dependency Succeeded, was Skipped by its own ``when`` (reason WhenFalse), or Failed with
``continueOnFailure``; otherwise it is Skipped with a reason naming the first upstream step
that blocks it. With ``when`` it runs iff the expression is true, whatever the upstream
outcome. Gates that only delay a start (suspend, parallelism, fail-fast) are the planner's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from zenflow.api.jobflow import Step
from zenflow.api.reasons import (
    REASON_UPSTREAM_FAILED,
    REASON_UPSTREAM_SKIPPED,
    REASON_WHEN_ERROR,
    REASON_WHEN_FALSE,
)
from zenflow.api.status import StepStatus, is_step_terminal
from zenflow.core.expressions import ExpressionError, compile_expression

Verdict = Literal["wait", "run", "skip", "error"]


@dataclass(frozen=True, slots=True)
class Readiness:
    """``run``, ``wait`` (dependencies not terminal), ``skip`` or ``error`` (a ``when`` that
    cannot be evaluated) with the reason and message to record."""

    verdict: Verdict
    reason: str | None = None
    message: str | None = None


def decide_readiness(
    *,
    step: Step,
    statuses: Mapping[str, StepStatus],
    continue_on_failure: Mapping[str, bool],
    params: Mapping[str, str],
    flow: Mapping[str, str],
    when_steps: Mapping[str, Mapping[str, Any]] | None = None,
) -> Readiness:
    """Decide for ``step`` given the current status of every step decided before it (spec
    steps in topological order). ``continue_on_failure`` maps each step to its flag;
    ``when_steps`` is ``when_context(statuses)`` when the caller keeps it up to date."""
    for dep in step.dependencies:
        dep_status = statuses.get(dep)
        if dep_status is None or not is_step_terminal(dep_status.phase):
            return Readiness("wait")
    if step.when is not None:
        steps = when_steps if when_steps is not None else when_context(statuses)
        return _evaluate_when(step, steps=steps, params=params, flow=flow)
    for dep in step.dependencies:
        dep_status = statuses[dep]
        if dep_status.phase == "Succeeded":
            continue
        if dep_status.phase == "Skipped" and dep_status.reason == REASON_WHEN_FALSE:
            continue
        if dep_status.phase == "Failed" and continue_on_failure.get(dep, False):
            continue
        reason = REASON_UPSTREAM_FAILED if dep_status.phase == "Failed" else REASON_UPSTREAM_SKIPPED
        return Readiness("skip", reason, f'upstream step "{dep}" {dep_status.phase}')
    return Readiness("run")


def when_context(statuses: Mapping[str, StepStatus]) -> dict[str, dict[str, Any]]:
    """``steps`` as ``when`` expressions see them: phase, outputs and retries of each step."""
    return {
        name: {
            "phase": st.phase,
            "outputs": dict(st.outputs or {}),
            "retries": st.retry_count or 0,
        }
        for name, st in statuses.items()
    }


def _evaluate_when(
    step: Step,
    *,
    steps: Mapping[str, Mapping[str, Any]],
    params: Mapping[str, str],
    flow: Mapping[str, str],
) -> Readiness:
    assert step.when is not None
    try:
        result = compile_expression(step.when).evaluate(params=params, steps=steps, flow=flow)
    except ExpressionError as exc:
        return Readiness("error", REASON_WHEN_ERROR, str(exc))
    if result:
        return Readiness("run")
    return Readiness("skip", REASON_WHEN_FALSE, f"when {step.when!r} is false")
