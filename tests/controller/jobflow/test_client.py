"""The JobFlow controller's API client (zenflow.controller.jobflow.client.FlowClient) on a fake
transport.

Aspects: a Job is created, or adopted when AlreadyExists names a Job this flow controls; a Job
of a deleted namesake flow is a transient error; a foreign Job is a JobConflict and a Job the
API server refuses (400/422) a JobRejected conflict carrying the server's message; a create
refused for now (quota, 429, 5xx) is a wait carrying the server's words; other errors (RBAC)
propagate; a status refused as too large raises StatusTooLargeError; resource templates are
created or adopted, a foreign one is a conflict message; the status patch is a merge patch of
/status carrying the resourceVersion; deletes go in the
background and tolerate 404 (the flow's with a uid precondition); the termination message is
read from the succeeded pod the Job controls (selected by its uid, a foreign pod ignored);
writes are counted.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.fake_transport import FakeTransport, reply, status_reply
from zenflow.controller.jobflow.client import CreateOutcome, FlowClient, StatusTooLargeError
from zenflow.errors import KubeError
from zenflow.kube.rest import MERGE_PATCH
from zenflow.kube.transport import Reply, Request

JOBS = "/apis/batch/v1/namespaces/ns/jobs"
FLOW = "/apis/workflow.zen.io/v1alpha1/namespaces/ns/jobflows/f"
UID = "uid-1"


def _owner(uid: str = UID, name: str = "f") -> dict[str, Any]:
    return {
        "apiVersion": "workflow.zen.io/v1alpha1",
        "kind": "JobFlow",
        "name": name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _job(name: str = "f-a-1", *owners: dict[str, Any]) -> dict[str, Any]:
    meta = {"name": name, "namespace": "ns", "ownerReferences": list(owners)}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta}


def _exists() -> Reply:
    return status_reply(409, "AlreadyExists", 'jobs.batch "f-a-1" already exists')


async def test_a_job_is_created() -> None:
    fake = FakeTransport()
    fake.answer("POST", JOBS, reply({**_job("f-a-1", _owner()), "status": {}}, 201))
    flows = FlowClient(fake)
    outcome = await flows.create_job(_job("f-a-1", _owner()), flow_uid=UID)
    assert outcome.job is not None
    assert outcome.job["metadata"]["name"] == "f-a-1"
    assert (fake.requests[0].body, flows.writes) == (_job("f-a-1", _owner()), 1)


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        pytest.param(
            _job("f-a-1", _owner()), CreateOutcome(job=_job("f-a-1", _owner())), id="ours-adopted"
        ),
        pytest.param(
            _job("f-a-1", {**_owner(), "controller": False}, _owner("other", "g")),
            CreateOutcome(
                conflict=(
                    "JobConflict",
                    "Job f-a-1 already exists and is not owned by this JobFlow",
                )
            ),
            id="foreign",
        ),
    ],
)
async def test_an_existing_job_is_adopted_or_a_conflict(
    existing: dict[str, Any], expected: CreateOutcome
) -> None:
    fake = FakeTransport()
    fake.answer("POST", JOBS, _exists())
    fake.answer("GET", f"{JOBS}/f-a-1", reply(existing))
    assert await FlowClient(fake).create_job(_job("f-a-1", _owner()), flow_uid=UID) == expected


async def test_a_job_of_a_deleted_namesake_is_transient() -> None:
    fake = FakeTransport()
    fake.answer("POST", JOBS, _exists())
    fake.answer("GET", f"{JOBS}/f-a-1", reply(_job("f-a-1", _owner("old-uid"))))
    with pytest.raises(KubeError, match="deleted JobFlow of the same name"):
        await FlowClient(fake).create_job(_job("f-a-1", _owner()), flow_uid=UID)


@pytest.mark.parametrize("status", [400, 422])
async def test_a_job_the_server_refuses_is_rejected_with_its_message(status: int) -> None:
    fake = FakeTransport()
    fake.answer("POST", JOBS, status_reply(status, "Invalid", "spec.template: Required value"))
    outcome = await FlowClient(fake).create_job(_job("f-a-1", _owner()), flow_uid=UID)
    assert outcome.conflict is not None
    reason, message = outcome.conflict
    assert reason == "JobRejected"
    assert message.endswith("spec.template: Required value")


QUOTA = 'jobs "f-a-1" is forbidden: exceeded quota: q, requested: count/jobs.batch=1'


@pytest.mark.parametrize(
    ("answer", "wait"),
    [
        pytest.param(
            status_reply(403, "Forbidden", QUOTA),
            ("QuotaExceeded", f"403 Forbidden: {QUOTA}"),
            id="quota",
        ),
        pytest.param(
            status_reply(429, "TooManyRequests", "slow down"),
            ("Throttled", "429 TooManyRequests: slow down"),
            id="throttled",
        ),
        pytest.param(
            status_reply(500, "InternalError", "etcd"),
            ("JobCreateFailed", "500 InternalError: etcd"),
            id="500",
        ),
    ],
)
async def test_a_create_refused_for_now_is_a_wait(answer: Reply, wait: tuple[str, str]) -> None:
    fake = FakeTransport()
    fake.answer("POST", JOBS, answer)
    outcome = await FlowClient(fake).create_job(_job("f-a-1", _owner()), flow_uid=UID)
    assert outcome == CreateOutcome(wait=wait)


async def test_other_create_errors_propagate() -> None:
    fake = FakeTransport()
    fake.answer("POST", JOBS, status_reply(403, "Forbidden", 'cannot create resource "jobs"'))
    with pytest.raises(KubeError, match="403 Forbidden: cannot create") as info:
        await FlowClient(fake).create_job(_job("f-a-1", _owner()), flow_uid=UID)
    assert info.value.status == 403


async def test_a_status_refused_as_too_large_says_so() -> None:
    fake = FakeTransport()
    fake.answer(
        "PATCH",
        FLOW + "/status",
        status_reply(500, "InternalError", "etcdserver: request is too large"),
    )
    with pytest.raises(StatusTooLargeError, match="request is too large"):
        await FlowClient(fake).patch_status(
            namespace="ns", name="f", resource_version="7", status={"phase": "Running"}
        )


async def test_resource_templates_are_created_adopted_or_conflicts() -> None:
    cms = "/api/v1/namespaces/ns/configmaps"
    meta = {"name": "cfg", "namespace": "ns", "ownerReferences": [_owner()]}
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}
    fake = FakeTransport()
    fake.answer("POST", cms, reply(manifest, 201), _exists())
    fake.answer(
        "GET",
        f"{cms}/cfg",
        reply({"metadata": {"name": "cfg", "ownerReferences": [_owner()]}}),
        reply({"metadata": {"name": "cfg"}}),
    )
    flows = FlowClient(fake)
    assert await flows.ensure_resource(manifest, flow_uid=UID) is None
    assert await flows.ensure_resource(manifest, flow_uid=UID) is None
    conflict = await flows.ensure_resource(manifest, flow_uid=UID)
    assert conflict == "ConfigMap cfg already exists and is not owned by this JobFlow"


async def test_the_status_patch_carries_the_resource_version() -> None:
    fake = FakeTransport()
    fake.answer("PATCH", f"{FLOW}/status", reply({"metadata": {"resourceVersion": "8"}}))
    updated = await FlowClient(fake).patch_status(
        namespace="ns", name="f", resource_version="7", status={"phase": "Running"}
    )
    assert updated == {"metadata": {"resourceVersion": "8"}}
    (sent,) = fake.requests
    assert sent.content_type == MERGE_PATCH
    assert sent.body == {"metadata": {"resourceVersion": "7"}, "status": {"phase": "Running"}}


async def test_annotations_are_merge_patched() -> None:
    fake = FakeTransport()
    fake.answer("PATCH", FLOW, reply({"metadata": {"name": "f"}}))
    await FlowClient(fake).patch_annotations(namespace="ns", name="f", annotations={"a": None})
    assert fake.requests[0].body == {"metadata": {"annotations": {"a": None}}}
    assert fake.requests[0].content_type == MERGE_PATCH


async def test_deletes_go_in_the_background_and_tolerate_not_found() -> None:
    fake = FakeTransport()
    flows = FlowClient(fake)
    await flows.delete_job(namespace="ns", name="f-a-1")
    await flows.delete_flow(namespace="ns", name="f", uid=UID)
    job, flow = fake.requests
    assert (job.method, job.path, job.body) == (
        "DELETE",
        f"{JOBS}/f-a-1",
        {"propagationPolicy": "Background"},
    )
    assert flow.body == {"propagationPolicy": "Background", "preconditions": {"uid": UID}}
    assert flows.writes == 2


def _pod(phase: str, message: str | None, *, job_uid: str = "job-uid") -> dict[str, Any]:
    terminated = {} if message is None else {"message": message}
    state = {"state": {"terminated": terminated}}
    owner = {"kind": "Job", "name": "f-a-1", "uid": job_uid, "controller": True}
    return {
        "metadata": {"ownerReferences": [owner]},
        "status": {"phase": phase, "containerStatuses": [state]},
    }


@pytest.mark.parametrize(
    ("pods", "message"),
    [
        pytest.param([_pod("Failed", "x"), _pod("Succeeded", '{"a": 1}')], '{"a": 1}', id="found"),
        pytest.param([_pod("Succeeded", None)], "", id="no-message"),
        pytest.param([_pod("Failed", "x")], None, id="no-succeeded-pod"),
        pytest.param([_pod("Succeeded", "forged", job_uid="other")], None, id="foreign-pod"),
    ],
)
async def test_the_termination_message_of_the_succeeded_pod(
    pods: list[dict[str, Any]], message: str | None
) -> None:
    fake = FakeTransport()
    seen: list[Request] = []

    def pods_of(request: Request, match: re.Match[str]) -> Reply:
        seen.append(request)
        return reply({"items": pods})

    fake.route("GET", "/api/v1/namespaces/ns/pods", pods_of)
    flows = FlowClient(fake)
    found = await flows.pod_termination_message(namespace="ns", job="f-a-1", job_uid="job-uid")
    assert found == message
    assert list(seen[0].query) == [("labelSelector", "batch.kubernetes.io/controller-uid=job-uid")]
    assert flows.writes == 0


async def test_sharded_creates_carry_the_owners_labels_and_field_manager() -> None:
    fake = FakeTransport()
    fake.answer("POST", JOBS, reply({**_job("f-a-1", _owner()), "status": {}}, 201))
    flows = FlowClient(fake, job_labels={"workflow.zen.io/shard": "r1"}, field_manager="zf/r1")
    await flows.create_job(_job("f-a-1", _owner()), flow_uid=UID)
    (sent,) = fake.sent("POST", JOBS)
    assert sent.body["metadata"]["labels"] == {"workflow.zen.io/shard": "r1"}
    assert ("fieldManager", "zf/r1") in list(sent.query)


async def test_a_job_another_replica_made_is_adopted_with_this_replicas_label() -> None:
    """A flow moved between replicas: its new owner's create of a Job the old owner made (the
    name is deterministic) adopts that Job -- no second Job -- and labels it for its cache."""
    fake = FakeTransport()
    theirs = _job("f-a-1", _owner())
    theirs["metadata"]["labels"] = {"workflow.zen.io/shard": "r0"}
    relabelled = {
        **theirs,
        "metadata": {**theirs["metadata"], "labels": {"workflow.zen.io/shard": "r1"}},
    }
    fake.answer("POST", JOBS, _exists())
    fake.answer("GET", f"{JOBS}/f-a-1", reply(theirs))
    fake.answer("PATCH", f"{JOBS}/f-a-1", reply(relabelled))
    flows = FlowClient(fake, job_labels={"workflow.zen.io/shard": "r1"})
    outcome = await flows.create_job(_job("f-a-1", _owner()), flow_uid=UID)
    assert outcome == CreateOutcome(job=relabelled)
    (patch,) = fake.sent("PATCH")
    assert patch.body == {"metadata": {"labels": {"workflow.zen.io/shard": "r1"}}}
    assert patch.content_type == MERGE_PATCH
    assert len(fake.sent("POST")) == 1  # one create, never a second Job
