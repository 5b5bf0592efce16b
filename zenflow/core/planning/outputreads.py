"""Which step outputs a reconcile must read, and what the answers mean.

Outputs are read once, when a step's latest Job has succeeded and the status holds none from
that Job yet; after that they live in the status. The core decides the reads
(``output_reads``), the reconciler performs them (the pod's termination message from the API
server when an output comes from it, the Job from the cache), and the core turns the answers
into the planner's ``Observed.outputs``/``output_errors`` (``observe_outputs``, through
``outputs.extract_outputs``). A step with output artifacts is read the same way: its report is
split off the termination message (``Observed.artifacts``) before outputs are parsed, and a Job
already judged ``ArtifactMissing`` is not read again. A finished flow reads nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from zenflow.api.jobflow import JobFlow
from zenflow.api.status import FLOW_TERMINAL_PHASES
from zenflow.core.observed import JobRecord, Observed
from zenflow.core.planning.artifacts import ArtifactReport, artifact_missing, split_report
from zenflow.core.planning.outputs import extract_outputs, needs_termination_message, reads_job


@dataclass(frozen=True, slots=True)
class OutputRead:
    """Read the outputs of ``step`` from its succeeded Job ``job``; ``termination_message``:
    some output comes from the Job's pod's termination message (else the Job alone answers)."""

    step: str
    job: str
    termination_message: bool


@dataclass(frozen=True, slots=True)
class OutputAnswer:
    """What a read found: the termination message of the Job's succeeded pod (None when not
    asked for or when no such pod exists) and the Job as cached (empty when gone)."""

    read: OutputRead
    message: str | None
    job: Mapping[str, Any]


def output_reads(flow: JobFlow, jobs: Mapping[str, Sequence[JobRecord]]) -> list[OutputRead]:
    """Reads for steps with outputs whose latest owned Job succeeded and whose status holds no
    outputs from that Job yet, in spec order."""
    status = flow.status
    if status is not None and status.phase in FLOW_TERMINAL_PHASES:
        return []
    previous = {s.name: s for s in (status.steps or [])} if status else {}
    reads = []
    for step in flow.spec.all_steps():
        artifacts = step.artifacts is not None and bool(step.artifacts.outputs)
        if not step.outputs and not artifacts:
            continue
        records = [j for j in jobs.get(step.name, ()) if j.owned]
        if not records:
            continue
        latest = max(records, key=lambda j: j.attempt)
        if latest.phase != "Succeeded" or (not latest.final and reads_job(step)):
            continue  # a JSONPath over the Job waits for the Job's own Complete
        prev = previous.get(step.name)
        if prev is not None and prev.phase == "Succeeded" and prev.job_ref == latest.name:
            continue
        if prev is not None and prev.job_ref == latest.name and artifact_missing(prev):
            continue  # decided from this Job already: the report is not read again
        message = needs_termination_message(step) or artifacts
        reads.append(OutputRead(step.name, latest.name, message))
    return reads


def observe_outputs(flow: JobFlow, observed: Observed, answers: Sequence[OutputAnswer]) -> Observed:
    """``observed`` with the outputs the answers hold and, per step, why reading failed."""
    steps = {s.name: s for s in flow.spec.all_steps()}
    outputs: dict[str, dict[str, str]] = {}
    problems: dict[str, str] = {}
    reports: dict[str, ArtifactReport] = {}
    for answer in answers:
        name = answer.read.step
        report, message = split_report(answer.message)
        if report is not None:
            reports[name] = report
        if not steps[name].outputs:
            continue
        values, problem = extract_outputs(step=steps[name], message=message, job=answer.job)
        if values:
            outputs[name] = values
        if problem:
            problems[name] = problem
    return replace(observed, outputs=outputs, output_errors=problems, artifacts=reports)
