"""When a Job's outcome is decided (zenflow.core.joboutcome): final conditions; the interim
SuccessCriteriaMet / FailureTarget (Failed with the reason and message the final condition will
carry, and a finished time that does not move when it arrives); the one succeeded pod of a Job
that needs one pod and that nothing else can fail — refused for every other Job shape
(completions, successPolicy, activeDeadlineSeconds, suspend, managedBy, a Job being deleted);
which pods count as succeeded (controlled by a Job, never deleted) and when they ended; which
later versions of a Job keep its decided outcome (``decision_kept``), and when a flow's status
already records it (``recorded``): the Job informer then queues nothing. The
real Job controller's side of these edges is tests/controller/jobflow/test_handoff.py."""

from __future__ import annotations

from typing import Any

import pytest

from zenflow.api.formats import parse_time
from zenflow.core.joboutcome import (
    PodSuccess,
    decision_kept,
    job_outcome,
    pod_decides,
    pod_success,
    recorded,
)
from zenflow.core.observed import job_record

T1, T2, T3 = "2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z", "2026-01-01T00:00:03Z"


def cond(kind: str, at: str, reason: str | None = None, message: str | None = None) -> Any:
    return {
        "type": kind,
        "status": "True",
        "lastTransitionTime": at,
        "reason": reason,
        "message": message,
    }


def job(*conditions: dict[str, Any], completion: str | None = None, **spec: Any) -> Any:
    status: dict[str, Any] = {"conditions": list(conditions)}
    if completion:
        status["completionTime"] = completion
    return {
        "metadata": {"name": "j", "uid": "job-uid"},
        "spec": {"completions": 1, **spec},
        **{"status": status},
    }


POD = PodSuccess(parse_time(T1))


def test_success_criteria_met_is_success_and_its_time_stays_when_complete_arrives() -> None:
    early = job_outcome(job(cond("SuccessCriteriaMet", T2)))
    assert (early.phase, early.signal, early.final) == ("Succeeded", "interim", False)
    final = job_outcome(job(cond("SuccessCriteriaMet", T2), cond("Complete", T3), completion=T3))
    assert (final.phase, final.signal, final.final) == ("Succeeded", "final", True)
    assert early.finished == final.finished == parse_time(T2)


def test_complete_alone_finishes_at_the_completion_time() -> None:
    outcome = job_outcome(job(cond("Complete", T3), completion=T2))
    assert (outcome.phase, outcome.finished) == ("Succeeded", parse_time(T2))


def test_failure_target_is_the_failure_the_final_condition_will_record() -> None:
    reason, message = "BackoffLimitExceeded", "Job has reached the specified backoff limit"
    early = job_outcome(job(cond("FailureTarget", T1, reason, message)))
    final = job_outcome(
        job(cond("FailureTarget", T1, reason, message), cond("Failed", T3, reason, message))
    )
    assert (early.phase, early.signal) == ("Failed", "interim")
    assert (final.phase, final.signal) == ("Failed", "final")
    assert (early.reason, early.message) == (final.reason, final.message) == (reason, message)
    assert early.finished == final.finished == parse_time(T1)


def test_failed_alone_and_conditions_that_are_not_true() -> None:
    failed = job_outcome(job(cond("Failed", T3, "DeadlineExceeded", "too long")))
    assert (failed.phase, failed.reason, failed.finished) == (
        "Failed",
        "DeadlineExceeded",
        parse_time(T3),
    )
    off = {**cond("Complete", T3), "status": "False"}
    assert job_outcome(job(off)).phase == "Running"


def test_a_succeeded_pod_decides_a_one_pod_job() -> None:
    outcome = job_outcome(job(), POD)
    assert (outcome.phase, outcome.signal, outcome.finished) == ("Succeeded", "pod", POD.finished)
    assert job_outcome(job()).phase == "Running"  # no pod seen: no outcome


def test_conditions_win_over_the_pod() -> None:
    outcome = job_outcome(job(cond("FailureTarget", T1, "DeadlineExceeded", "late")), POD)
    assert (outcome.phase, outcome.reason) == ("Failed", "DeadlineExceeded")


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({"completions": 2}, id="two-completions"),
        pytest.param({"completions": None}, id="work-queue"),
        pytest.param({"activeDeadlineSeconds": 30}, id="deadline-may-still-fail-it"),
        pytest.param(
            {"completionMode": "Indexed", "successPolicy": {"rules": [{"succeededCount": 1}]}},
            id="success-policy",
        ),
        pytest.param({"suspend": True}, id="suspended"),
        pytest.param({"managedBy": "example.com/other"}, id="other-controller"),
    ],
)
def test_the_pod_does_not_decide_other_jobs(spec: dict[str, Any]) -> None:
    body = job(**spec)
    assert not pod_decides(body)
    assert job_outcome(body, POD).phase == "Running"


def test_the_pod_decides_indexed_one_completion_and_builtin_managed_jobs() -> None:
    assert pod_decides(job(completionMode="Indexed", parallelism=3))
    assert pod_decides(job(managedBy="kubernetes.io/job-controller"))


def test_the_pod_does_not_decide_a_job_being_deleted() -> None:
    body = job()
    body["metadata"]["deletionTimestamp"] = T2
    assert not pod_decides(body)


def pod(phase: str, **meta: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "p",
            "ownerReferences": [{"kind": "Job", "uid": "job-uid", "controller": True}],
            **meta,
        },
        "status": {
            "phase": phase,
            "containerStatuses": [
                {"state": {"terminated": {"exitCode": 0, "finishedAt": T1}}},
                {"state": {"terminated": {"exitCode": 0, "finishedAt": T2}}},
            ],
        },
    }


def test_pod_success_names_the_controlling_job_and_the_last_container_end() -> None:
    assert pod_success(pod("Succeeded")) == ("job-uid", PodSuccess(parse_time(T2)))


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(pod("Running"), id="running"),
        pytest.param(pod("Failed"), id="failed"),
        pytest.param(pod("Succeeded", deletionTimestamp=T3), id="deleted"),
        pytest.param(pod("Succeeded", ownerReferences=[]), id="orphan"),
        pytest.param(
            pod("Succeeded", ownerReferences=[{"kind": "Job", "uid": "x"}]), id="not-controller"
        ),
        pytest.param(
            pod(
                "Succeeded",
                ownerReferences=[{"kind": "ReplicaSet", "uid": "x", "controller": True}],
            ),
            id="not-a-job",
        ),
    ],
)
def test_other_pods_are_no_success(body: dict[str, Any]) -> None:
    assert pod_success(body) is None


def test_a_pod_read_as_metadata_only_succeeded_when_seen() -> None:
    """A succeeded-pods watch reads metadata only (no status): the success is dated when seen;
    a deleted one, or one no Job controls, is still no success."""
    seen = parse_time(T3)
    metadata_only = {k: v for k, v in pod("Succeeded").items() if k != "status"}
    assert pod_success(metadata_only, seen=seen) == ("job-uid", PodSuccess(seen))
    gone = {"metadata": {**metadata_only["metadata"], "deletionTimestamp": T3}}
    assert pod_success(gone, seen=seen) is None
    assert pod_success({"metadata": {"name": "p"}}, seen=seen) is None
    assert pod_success(pod("Succeeded"), seen=seen) == ("job-uid", PodSuccess(parse_time(T2)))


def test_job_record_takes_the_pod_and_says_it_is_not_final() -> None:
    body = job()
    body["metadata"]["labels"] = {"workflow.zen.io/step": "a"}
    rec = job_record(body, flow_uid="f", pod=POD)
    assert rec is not None
    assert (rec.phase, rec.final, rec.finished) == ("Succeeded", False, POD.finished)


FAILURE = ("BackoffLimitExceeded", "too many failures")
SCM, COMPLETE = cond("SuccessCriteriaMet", T2), cond("Complete", T3)
TARGET, FAILED = cond("FailureTarget", T2, *FAILURE), cond("Failed", T3, *FAILURE)


@pytest.mark.parametrize(
    ("old", "new", "pod", "kept"),
    [
        pytest.param(job(), job(SCM), POD, True, id="interim-after-the-pod"),
        pytest.param(job(SCM), job(SCM, COMPLETE), None, False, id="final-after-a-success"),
        pytest.param(job(), job(SCM, COMPLETE), POD, False, id="final-after-the-pod"),
        pytest.param(job(TARGET), job(TARGET, FAILED), None, True, id="failed-after-the-target"),
        pytest.param(job(SCM, COMPLETE), job(SCM, COMPLETE), None, True, id="final-stays"),
        pytest.param(job(), job(SCM), None, False, id="interim-first"),
        pytest.param(job(), job(TARGET), POD, False, id="target-after-the-pod"),
        pytest.param(
            job(TARGET),
            job(TARGET, cond("Failed", T3, "DeadlineExceeded", "other")),
            None,
            False,
            id="failed-otherwise",
        ),
        pytest.param(job(activeDeadlineSeconds=5), job(SCM), POD, False, id="pod-not-deciding"),
    ],
)
def test_a_later_version_keeps_the_decision_only_when_a_plan_reads_the_same(
    old: Any, new: Any, pod: PodSuccess | None, kept: bool
) -> None:
    assert decision_kept(old, new, pod) is kept


STATUS = {
    "steps": [
        {"name": "a", "phase": "Succeeded", "jobRef": "f-a-1"},
        {"name": "b", "phase": "Failed", "jobRef": "f-b-2"},
        {"name": "c", "phase": "Running", "jobRef": "f-c-1"},
        {
            "name": "m",
            "phase": "Running",
            "jobRef": "f-m-0-1",
            "shards": [{"index": 0, "phase": "Succeeded", "jobRef": "f-m-0-1"}],
        },
    ]
}


@pytest.mark.parametrize(
    ("status", "job_name", "phase", "expected"),
    [
        pytest.param(STATUS, "f-a-1", "Succeeded", True, id="succeeded-step"),
        pytest.param(STATUS, "f-b-2", "Failed", True, id="failed-step"),
        pytest.param(STATUS, "f-a-1", "Failed", False, id="other-phase"),
        pytest.param(STATUS, "f-a-2", "Succeeded", False, id="other-attempt"),
        pytest.param(STATUS, "f-c-1", "Succeeded", False, id="still-running"),
        pytest.param(STATUS, "f-c-1", "Running", False, id="running-is-never-recorded"),
        pytest.param(STATUS, "f-m-0-1", "Succeeded", False, id="matrix-shard"),
        pytest.param(None, "f-a-1", "Succeeded", False, id="no-status"),
    ],
)
def test_recorded_only_for_a_step_ended_that_way_with_that_job(
    status: Any, job_name: str, phase: Any, expected: bool
) -> None:
    assert recorded(status, job_name, phase) is expected
