"""Which outputs a reconcile reads, and what the answers mean (zenflow.core.planning.outputreads).

Aspects: a read for each step with outputs whose latest Job succeeded, asking for the
termination message only when an output comes from it; none for steps without outputs, with a
running or failed latest attempt, whose status already holds that Job's outputs, or of a
finished flow; answers become ``Observed.outputs`` and reading problems ``output_errors``.
"""

from __future__ import annotations

from typing import Any

from tests.core.planning.driver import job, make_flow, record
from zenflow.api.jobflow import JobFlow
from zenflow.api.status import JobFlowStatus, StepStatus
from zenflow.core.observed import JobRecord, Observed
from zenflow.core.planning.outputreads import (
    OutputAnswer,
    OutputRead,
    observe_outputs,
    output_reads,
)

FROM_MESSAGE = [{"name": "x"}]
FROM_JOB = [{"name": "n", "valueFrom": {"jsonPath": "{.status.succeeded}"}}]


def _flow(status: JobFlowStatus | None = None) -> JobFlow:
    flow = make_flow(
        job("msg", outputs=FROM_MESSAGE),
        job("path", outputs=FROM_JOB),
        job("plain"),
        job("retried", outputs=FROM_MESSAGE),
    )
    return flow.model_copy(update={"status": status})


def _jobs(*records: JobRecord) -> dict[str, list[JobRecord]]:
    out: dict[str, list[JobRecord]] = {}
    for r in records:
        out.setdefault(r.step, []).append(r)
    return out


def test_reads_for_succeeded_steps_with_outputs() -> None:
    jobs = _jobs(
        record("msg", "Succeeded"),
        record("path", "Succeeded"),
        record("plain", "Succeeded"),
        record("retried", "Succeeded", attempt=1),
        record("retried", "Running", attempt=2),
    )
    assert output_reads(_flow(), jobs) == [
        OutputRead("msg", "f-msg-1", termination_message=True),
        OutputRead("path", "f-path-1", termination_message=False),
    ]


def test_no_read_when_the_status_holds_that_jobs_outputs() -> None:
    done = StepStatus(name="msg", phase="Succeeded", job_ref="f-msg-1", outputs={"x": "1"})
    status = JobFlowStatus(phase="Running", steps=[done])
    jobs = _jobs(record("msg", "Succeeded"), record("path", "Failed"))
    assert output_reads(_flow(status), jobs) == []
    again = _jobs(record("msg", "Succeeded", attempt=2))
    assert [r.job for r in output_reads(_flow(status), again)] == ["f-msg-2"]


def test_a_finished_flow_reads_nothing() -> None:
    status = JobFlowStatus(phase="Succeeded")
    assert output_reads(_flow(status), _jobs(record("msg", "Succeeded"))) == []


def test_answers_become_observed_outputs_and_problems() -> None:
    flow = _flow()
    job_obj: dict[str, Any] = {"status": {"succeeded": 1}}
    answers = [
        OutputAnswer(OutputRead("msg", "f-msg-1", True), '{"x": "hello"}', {}),
        OutputAnswer(OutputRead("path", "f-path-1", False), None, job_obj),
        OutputAnswer(OutputRead("retried", "f-retried-1", True), None, {}),
    ]
    observed = observe_outputs(flow, Observed(), answers)
    assert observed.outputs == {"msg": {"x": "hello"}, "path": {"n": "1"}}
    assert observed.output_errors == {"retried": "the container wrote no termination message"}
