"""The compact Job cache (zenflow.controller.jobcache): a Job as the API server sends it and its
compact form give the same Job record, the same outcome (with and without a pod success), the
same owner key; the pod template, status counters and undeciding conditions are gone; an
unfinished Job keeps the spec fields that decide whether its pod decides it, a finished one
none; the retry count survives; an object that is not a Job is cached as it came; a Job deep
only in managedFields is decoded at the decoder's own bound and compacted, one past it becomes
a placeholder."""

from __future__ import annotations

import copy
import json
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from zenflow.api.constants import API_VERSION, JOBFLOW_KIND
from zenflow.boundedjson import DECODER_DEPTH
from zenflow.controller.jobcache import compact_job
from zenflow.controller.listwatch import jobs_lister_watcher
from zenflow.core.joboutcome import PodSuccess, job_outcome, pod_decides
from zenflow.core.observed import job_record
from zenflow.kube.listwatch import decode_event
from zenflow.kube.transport import Reply, Request, Streamed, Transport
from zenflow.machinery.informer import owner_key
from zenflow.machinery.listwatch import undecodable_reason

FLOW_UID = "flow-uid"


class _NoServer(Transport):
    async def send(self, request: Request) -> Reply:
        raise AssertionError("no request expected")

    def open(self, request: Request) -> AbstractAsyncContextManager[Streamed]:
        raise AssertionError("no request expected")


def full_job(*conditions: dict[str, Any], retry: str = "0", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "f-a-2",
            "namespace": "ns",
            "uid": "job-uid",
            "resourceVersion": "42",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "generation": 1,
            "labels": {
                "jobflow": "f",
                "workflow.zen.io/jobflow": "f",
                "workflow.zen.io/step": "a",
                "workflow.zen.io/attempt": "2",
                "app.kubernetes.io/managed-by": "zenflow",
                "team": "x",
                "batch.kubernetes.io/controller-uid": "job-uid",
            },
            "annotations": {"workflow.zen.io/retry-count": retry, "note": "y" * 500},
            "ownerReferences": [
                {
                    "apiVersion": API_VERSION,
                    "kind": JOBFLOW_KIND,
                    "name": "f",
                    "uid": FLOW_UID,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
            "managedFields": [{"manager": "zenflow-controller", "fieldsV1": {"f:spec": {}}}],
        },
        "spec": {
            "completions": 1,
            "parallelism": 1,
            "backoffLimit": 0,
            "template": {"spec": {"containers": [{"name": "main", "image": "busybox"}]}},
            **spec,
        },
        "status": {
            "startTime": "2026-01-01T00:00:01Z",
            "active": 0,
            "succeeded": 1,
            "uncountedTerminatedPods": {},
            "conditions": list(conditions),
            **(
                {"completionTime": "2026-01-01T00:00:03Z"}
                if any(c["type"] == "Complete" for c in conditions)
                else {}
            ),
        },
    }


def cond(kind: str, status: str = "True", reason: str | None = None) -> dict[str, Any]:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": f"{kind} message" if reason else None,
        "lastProbeTime": "2026-01-01T00:00:02Z",
        "lastTransitionTime": "2026-01-01T00:00:02Z",
    }


JOBS = [
    pytest.param(full_job(), id="running"),
    pytest.param(full_job(activeDeadlineSeconds=30), id="running-deadline"),
    pytest.param(full_job(cond("SuccessCriteriaMet")), id="success-criteria-met"),
    pytest.param(full_job(cond("SuccessCriteriaMet"), cond("Complete")), id="complete"),
    pytest.param(full_job(cond("FailureTarget", reason="DeadlineExceeded")), id="failure-target"),
    pytest.param(
        full_job(
            cond("FailureTarget", reason="BackoffLimitExceeded"),
            cond("Failed", reason="BackoffLimitExceeded"),
        ),
        id="failed",
    ),
    pytest.param(full_job(cond("Suspended", "False"), retry="3"), id="retried"),
]


@pytest.mark.parametrize("job", JOBS)
def test_the_compact_job_says_what_the_full_one_says(job: dict[str, Any]) -> None:
    compact = compact_job(copy.deepcopy(job))
    for pod in (None, PodSuccess(None)):
        assert job_record(compact, flow_uid=FLOW_UID, pod=pod) == job_record(
            job, flow_uid=FLOW_UID, pod=pod
        )
        assert job_outcome(compact, pod) == job_outcome(job, pod)
    assert owner_key(compact, JOBFLOW_KIND, api_version=API_VERSION) == owner_key(
        job, JOBFLOW_KIND, api_version=API_VERSION
    )
    assert compact["metadata"]["resourceVersion"] == "42"


def test_what_the_controller_does_not_read_is_gone() -> None:
    compact = compact_job(full_job(cond("Suspended", "False")))
    meta = compact["metadata"]
    assert "managedFields" not in meta
    assert "annotations" not in meta  # retry count 0 is the default
    assert set(meta["labels"]) == {
        "workflow.zen.io/jobflow",
        "workflow.zen.io/step",
        "workflow.zen.io/attempt",
    }
    assert compact["spec"] == {"completions": 1}
    assert compact["status"] == {}
    assert meta["ownerReferences"] == [
        {
            "apiVersion": API_VERSION,
            "kind": JOBFLOW_KIND,
            "name": "f",
            "uid": FLOW_UID,
            "controller": True,
        }
    ]


def test_a_finished_job_keeps_no_spec_and_only_its_deciding_conditions() -> None:
    compact = compact_job(full_job(cond("SuccessCriteriaMet"), cond("Complete")))
    assert "spec" not in compact
    assert [c["type"] for c in compact["status"]["conditions"]] == [
        "SuccessCriteriaMet",
        "Complete",
    ]
    assert "lastProbeTime" not in compact["status"]["conditions"][0]


def test_an_unfinished_job_keeps_what_decides_whether_its_pod_decides() -> None:
    spec: dict[str, Any] = {
        "completionMode": "Indexed",
        "successPolicy": {"rules": [{"succeededCount": 1}]},
    }
    job = full_job(**spec)
    assert pod_decides(compact_job(copy.deepcopy(job))) == pod_decides(job) is False


def test_an_object_without_metadata_is_cached_as_it_came() -> None:
    assert compact_job({"kind": "Job"}) == {"kind": "Job"}


def test_a_job_deep_only_where_the_cache_does_not_read_is_cached_without_a_depth_scan() -> None:
    # The Job watch decodes at the decoder's own bound (controller/listwatch.py): a Job nests
    # deeply only in free-form managedFields, which compact_job drops without recursing.
    deep: dict[str, Any] = {}
    for _ in range(500):
        deep = {"f:x": deep}
    job = full_job()
    job["metadata"]["managedFields"] = [{"manager": "m", "fieldsV1": deep}]
    line = json.dumps({"type": "MODIFIED", "object": job}).encode()
    bound = jobs_lister_watcher(_NoServer(), namespace=None).max_depth
    assert bound == DECODER_DEPTH
    event = decode_event(line, max_depth=bound)
    assert isinstance(event, dict)
    compact = compact_job(event["object"])
    assert "managedFields" not in compact["metadata"]
    assert compact == compact_job(full_job())


def test_a_job_past_the_decoders_bound_becomes_a_placeholder() -> None:
    deep: dict[str, Any] = {}
    for _ in range(DECODER_DEPTH + 10):
        deep = {"f:x": deep}
    job = full_job()
    job["metadata"]["managedFields"] = [{"manager": "m", "fieldsV1": deep}]
    line = json.dumps({"type": "MODIFIED", "object": job}).encode()
    event = decode_event(line, max_depth=DECODER_DEPTH)
    assert isinstance(event, dict)
    reason = undecodable_reason(event["object"])
    assert reason is not None
    assert "levels deep" in reason
    assert event["object"]["metadata"]["name"] == "f-a-2"
