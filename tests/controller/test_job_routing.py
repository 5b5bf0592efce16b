"""Which Job updates queue their flow (zenflow.controller.setup.changes_no_plan), on compact
Jobs: the Job controller's counters queue nothing; neither does the interim condition after the
pod's success, nor the final condition once the flow's status records the step ended that way;
a Job that changes its metadata (being deleted), or whose outcome the status does not record
yet (a step reading its outputs from the Job), or that turns from running to decided, does."""

from __future__ import annotations

from typing import Any

import pytest

from zenflow.controller.setup import changes_no_plan
from zenflow.core.joboutcome import PodSuccess

POD = PodSuccess(None)


def job(*conditions: str, rv: str = "1", **meta: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "f-a-1", "namespace": "ns", "uid": "u", "resourceVersion": rv, **meta},
        "spec": {"completions": 1},
        "status": {
            "conditions": [
                {"type": c, "status": "True", "lastTransitionTime": "2026-01-01T00:00:02Z"}
                for c in conditions
            ]
        },
    }


def status(phase: str) -> dict[str, Any]:
    return {"steps": [{"name": "a", "phase": phase, "jobRef": "f-a-1"}]}


@pytest.mark.parametrize(
    ("old", "new", "pod", "flow_status", "quiet"),
    [
        pytest.param(job(), job(rv="2"), None, None, True, id="counters"),
        pytest.param(job(), job("SuccessCriteriaMet", rv="2"), POD, None, True, id="interim"),
        pytest.param(
            job("SuccessCriteriaMet"),
            job("SuccessCriteriaMet", "Complete", rv="2"),
            None,
            status("Succeeded"),
            True,
            id="final-recorded",
        ),
        pytest.param(
            job("SuccessCriteriaMet"),
            job("SuccessCriteriaMet", "Complete", rv="2"),
            None,
            status("Running"),
            False,
            id="final-awaited",
        ),
        pytest.param(job(), job("SuccessCriteriaMet", rv="2"), None, None, False, id="decided"),
        pytest.param(
            job("SuccessCriteriaMet"),
            job("SuccessCriteriaMet", rv="2", deletionTimestamp="2026-01-01T00:00:03Z"),
            POD,
            status("Succeeded"),
            False,
            id="deleting",
        ),
    ],
)
def test_a_job_update_queues_its_flow_only_when_a_plan_could_differ(
    old: dict[str, Any],
    new: dict[str, Any],
    pod: PodSuccess | None,
    flow_status: dict[str, Any] | None,
    quiet: bool,
) -> None:
    assert changes_no_plan(old, new, pod, flow_status) is quiet
