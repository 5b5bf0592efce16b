"""User-requested retries of a finished flow (annotation ``workflow.zen.io/retry=<nonce>``,
optionally with ``workflow.zen.io/retry-step=<step>``).

A retry is acted on once per new nonce: the status remembers the last nonce seen
(``status.retryNonce``), and a nonce that arrives while the flow is still running is recorded
without effect. Whole-flow retry re-runs the Failed and Skipped steps and keeps the successful
ones; a step retry re-runs that step and everything downstream of it. Either way the ``finally``
steps run again. A re-run step goes back to Pending with an attempt floor above every Job it ever
had, so its next Job is a new attempt and old Jobs are history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from zenflow.api.jobflow import JobFlow
from zenflow.api.status import JobFlowStatus, StepStatus
from zenflow.core.dag import Dag
from zenflow.core.observed import JobRecord


def steps_to_rerun(*, flow: JobFlow, status: JobFlowStatus, step: str | None) -> set[str] | None:
    """Names of the steps a retry re-runs; None when ``step`` names no step."""
    final = {s.name for s in flow.spec.finally_}
    if step:
        regular = Dag.from_steps(flow.spec.steps)
        final_dag = Dag.from_steps(flow.spec.finally_)
        if step in regular:
            chosen = {step} | regular.descendants(step)
        elif step in final_dag:
            chosen = {step} | final_dag.descendants(step)
        else:
            return None
    else:
        chosen = {s.name for s in status.steps or [] if s.phase in ("Failed", "Skipped")}
    return chosen | final if chosen else chosen


def reset_for_retry(
    *,
    flow: JobFlow,
    status: JobFlowStatus,
    rerun: set[str],
    jobs: Mapping[str, Sequence[JobRecord]],
    nonce: str,
    now: datetime,
) -> JobFlowStatus:
    """The status of the flow restarted with ``rerun`` steps back to Pending."""
    steps = []
    for st in status.steps or []:
        if st.name not in rerun:
            steps.append(st)
            continue
        # The floor comes from the finished status alone, never from the Jobs: a retry planned
        # again before its status was written (a crash, or a plan set aside for a conflict)
        # sees the Jobs it already created and must pick the same attempt, to adopt them
        # rather than start the step a second time. A finished status records every attempt
        # its steps and shards ran.
        highest = max([st.attempt or 0] + [s.attempt or 0 for s in st.shards or []])
        steps.append(
            StepStatus(name=st.name, phase="Pending", attempt=highest + 1 if highest else None)
        )
    del now
    return JobFlowStatus(
        phase="Running",
        observed_generation=flow.generation,
        steps=steps,
        conditions=status.conditions,
        retry_nonce=nonce,
    )
