"""Job records (zenflow.core.observed): phase from the Job controller's terminal and interim
conditions (zenflow.core.joboutcome decides; tests/core/test_joboutcome.py covers it), failure
reason and time, attempt and retry count from labels/annotations, ownership by uid."""

from __future__ import annotations

from typing import Any

import pytest

from zenflow.api.formats import parse_time
from zenflow.core.observed import job_record


def _job(conditions: list[dict[str, Any]], *, uid: str = "u1") -> dict[str, Any]:
    return {
        "metadata": {
            "name": "f-a-2",
            "labels": {"workflow.zen.io/step": "a", "workflow.zen.io/attempt": "2"},
            "annotations": {"workflow.zen.io/retry-count": "1"},
            "ownerReferences": [{"uid": uid, "controller": True}],
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "status": {"conditions": conditions, "completionTime": "2026-01-01T00:00:09Z"},
    }


@pytest.mark.parametrize(
    ("conditions", "phase", "reason"),
    [
        pytest.param([], "Running", None, id="running"),
        pytest.param(
            [
                {
                    "type": "FailureTarget",
                    "status": "True",
                    "reason": "DeadlineExceeded",
                    "lastTransitionTime": "2026-01-01T00:00:05Z",
                }
            ],
            "Failed",
            "DeadlineExceeded",
            id="failure-target-decides-early",
        ),
        pytest.param(
            [
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": "DeadlineExceeded",
                    "lastTransitionTime": "2026-01-01T00:00:05Z",
                }
            ],
            "Failed",
            "DeadlineExceeded",
            id="failed",
        ),
        pytest.param([{"type": "Complete", "status": "True"}], "Succeeded", None, id="complete"),
        pytest.param([{"type": "Complete", "status": "False"}], "Running", None, id="false"),
    ],
)
def test_job_record_phase(conditions: list[dict[str, Any]], phase: str, reason: str | None) -> None:
    rec = job_record(_job(conditions), flow_uid="u1")
    assert rec is not None
    assert (rec.phase, rec.reason) == (phase, reason)
    assert (rec.step, rec.attempt, rec.retry_count, rec.owned) == ("a", 2, 1, True)
    assert rec.final == (phase != "Running" and conditions[0]["type"] in ("Complete", "Failed"))
    if phase == "Failed":
        assert rec.finished == parse_time("2026-01-01T00:00:05Z")
    if phase == "Succeeded":
        assert rec.finished == parse_time("2026-01-01T00:00:09Z")


def test_ownership_is_by_uid_and_unlabelled_jobs_are_ignored() -> None:
    rec = job_record(_job([], uid="other"), flow_uid="u1")
    assert rec is not None
    assert rec.owned is False
    assert job_record({"metadata": {"name": "x"}}, flow_uid="u1") is None
