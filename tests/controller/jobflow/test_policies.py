"""End to end on the real control plane (items 5-8 of issue 5): resource templates, TTL,
concurrency policy, suspend; plus cancel, approval of Manual steps and user retries.

Aspects: resourceTemplates create a PVC and a ConfigMap owned by the flow before the first
step; a name held by a foreign object fails the flow (ResourceConflict naming it) and starts
nothing; ttlSecondsAfterFinished deletes the finished flow and the garbage collector removes its
Jobs and ConfigMap; Forbid queues the newer flow (Pending, Queued condition naming the running
one) and starts it when the older finishes; Replace cancels the older running flow (Failed,
Replaced) and runs the newer; suspend holds new steps (phase Suspended, running Job left alone,
nothing started by a reconcile that saw it finish) and resumes; the cancel annotation
terminates running Jobs (Failed, Cancelled); a Manual step waits until approved; the retry
annotation re-runs failed steps (and retry-step one step and its dependents) as new attempts,
once per nonce (a reconcile after the retry finished runs nothing more).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest
from kubernetes_asyncio import client

from tests.support.jobflows import (
    Running,
    condition,
    jobflow,
    step,
    step_status,
)
from tests.support.wait import consistently, eventually
from zenflow.api.constants import (
    ANNOTATION_APPROVE,
    ANNOTATION_CANCEL,
    ANNOTATION_RETRY,
    ANNOTATION_RETRY_STEP,
    LABEL_CONCURRENCY_GROUP,
)

pytestmark = pytest.mark.integration


def _phase(obj: dict[str, Any]) -> str | None:
    phase = (obj.get("status") or {}).get("phase")
    return str(phase) if phase is not None else None


async def test_resource_templates_are_created_and_owned(zf: Running) -> None:
    created = await zf.create(
        jobflow(
            "res",
            [step("use")],
            resourceTemplates={
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "res-data"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "1Mi"}},
                        },
                    }
                ],
                "configMapTemplates": [{"metadata": {"name": "res-cfg"}, "data": {"k": "v"}}],
            },
        )
    )
    done = await zf.wait_phase("res")
    assert done["status"]["phase"] == "Succeeded"
    uid = created["metadata"]["uid"]
    pvc = await zf.core.read_namespaced_persistent_volume_claim("res-data", zf.namespace)
    cm = await zf.core.read_namespaced_config_map("res-cfg", zf.namespace)
    for obj in (pvc, cm):
        (owner,) = obj.metadata.owner_references
        assert (owner.uid, owner.controller) == (uid, True)
    assert cm.data == {"k": "v"}
    # Created before the first step's Job.
    (job,) = await zf.jobs("res")
    assert cm.metadata.creation_timestamp.timestamp() <= _created(job)


def _created(obj: dict[str, object]) -> float:
    stamp = obj["metadata"]["creationTimestamp"]  # type: ignore[index]
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


async def test_resource_conflict_fails_the_flow(zf: Running) -> None:
    await zf.core.create_namespaced_config_map(
        zf.namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="taken"))
    )
    await zf.create(
        jobflow(
            "clash",
            [step("never")],
            resourceTemplates={"configMapTemplates": [{"metadata": {"name": "taken"}}]},
        )
    )
    done = await zf.wait_phase("clash")
    status = done["status"]
    assert (status["phase"], status["reason"]) == ("Failed", "ResourceConflict")
    assert "ConfigMap taken" in status["message"]
    failed = condition(done, "Failed")
    assert failed is not None
    assert failed["reason"] == "ResourceConflict"
    assert await zf.jobs("clash") == []


async def test_ttl_deletes_the_flow_and_cascades(zf: Running) -> None:
    await zf.create(
        jobflow(
            "ttl",
            [step("one")],
            executionPolicy={"ttlSecondsAfterFinished": 2},
            resourceTemplates={"configMapTemplates": [{"metadata": {"name": "ttl-cfg"}}]},
        )
    )
    done = await zf.wait_phase("ttl")
    assert done["status"]["phase"] == "Succeeded"
    assert len(await zf.jobs("ttl")) == 1
    await zf.wait_for("ttl", lambda o: not o, within=30, what="deletion by TTL")
    # The garbage collector removes what the flow owned.

    async def jobs_gone() -> bool:
        return not await zf.jobs("ttl")

    async def config_map_gone() -> bool:
        try:
            await zf.core.read_namespaced_config_map("ttl-cfg", zf.namespace)
        except client.ApiException as exc:
            if exc.status == 404:
                return True
            raise
        return False

    # The garbage collector starts watching a new CRD's objects only at its next discovery
    # resync (30 s in kube-controller-manager), so allow for that on a fresh control plane.
    await eventually(jobs_gone, within=90, what="Jobs garbage-collected")
    await eventually(config_map_gone, within=30, what="ConfigMap garbage-collected")


async def _next_second(obj: dict[str, object]) -> None:
    """Flows are ordered by creationTimestamp (whole seconds), then name: make the next one
    unambiguously newer."""

    async def later() -> bool:
        return time.time() >= _created(obj) + 1.0

    await eventually(later, within=5, what="the next second")


async def test_forbid_queues_the_newer_flow(zf: Running) -> None:
    group = {LABEL_CONCURRENCY_GROUP: "nightly"}
    policy = {"concurrencyPolicy": "Forbid"}
    await zf.create(
        jobflow("first", [step("work", seconds=2)], labels=group, executionPolicy=policy)
    )
    await zf.wait_for("first", lambda o: _phase(o) == "Running", what="first running")
    await zf.create(jobflow("second", [step("work")], labels=group, executionPolicy=policy))
    queued = await zf.wait_for(
        "second", lambda o: condition(o, "Queued") is not None, what="second queued"
    )
    assert _phase(queued) == "Pending"
    cond = condition(queued, "Queued")
    assert cond is not None
    assert cond["status"] == "True"
    assert "first" in cond["message"]
    assert await zf.jobs("second") == []
    first = await zf.wait_phase("first")
    second = await zf.wait_phase("second")
    assert (_phase(first), _phase(second)) == ("Succeeded", "Succeeded")
    started = step_status(second, "work")["startTime"]
    assert started >= first["status"]["completionTime"]
    after = condition(second, "Queued")
    assert after is not None
    assert after["status"] == "False"


async def test_replace_cancels_the_older_flow(zf: Running) -> None:
    group = {LABEL_CONCURRENCY_GROUP: "deploy"}
    policy = {"concurrencyPolicy": "Replace"}
    old_flow = await zf.create(
        jobflow("old", [step("work", seconds=30)], labels=group, executionPolicy=policy)
    )
    await zf.wait_for(
        "old",
        lambda o: (step_status(o, "work").get("phase") if o.get("status") else None) == "Running",
        what="old running",
    )
    await _next_second(old_flow)
    await zf.create(jobflow("new", [step("work")], labels=group, executionPolicy=policy))
    old = await zf.wait_phase("old")
    assert (old["status"]["phase"], old["status"].get("reason")) == ("Failed", "Replaced"), old[
        "status"
    ]
    assert "new" in old["status"]["message"]
    assert step_status(old, "work")["phase"] == "Failed"
    new = await zf.wait_phase("new")
    assert new["status"]["phase"] == "Succeeded"
    # The old flow's running Job was deleted (gone, or going).
    assert all(j["metadata"].get("deletionTimestamp") for j in await zf.jobs("old"))


async def test_suspend_holds_new_steps_and_resumes(zf: Running) -> None:
    await zf.create(jobflow("sus", [step("a", seconds=1.5), step("b", "a")], suspend=False))
    await zf.wait_for("sus", lambda o: _phase(o) == "Running", what="running")
    await zf.patch("sus", {"spec": {"suspend": True}})
    held = await zf.wait_for(
        "sus", lambda o: step_status(o, "a").get("phase") == "Succeeded", what="a finished"
    )
    # The running Job was left alone and finished; nothing new started.
    assert held["status"]["phase"] == "Suspended"
    assert step_status(held, "b")["phase"] == "Pending"
    suspended = condition(held, "Suspended")
    assert suspended is not None
    assert suspended["status"] == "True"

    async def only_the_first_job() -> bool:
        names = [j["metadata"]["name"] for j in await zf.jobs("sus")]
        assert names == ["sus-a-1"], names
        return True

    # The controller saw a finish while suspended (it reconciled the flow after its caches
    # held that state) and still started nothing.
    await consistently(only_the_first_job, until=zf.reconciled("sus"), what="no new Job")
    await zf.patch("sus", {"spec": {"suspend": False}})
    done = await zf.wait_phase("sus")
    assert done["status"]["phase"] == "Succeeded"
    resumed = condition(done, "Suspended")
    assert resumed is not None
    assert resumed["status"] == "False"


async def test_cancel_annotation_terminates_the_flow(zf: Running) -> None:
    await zf.create(jobflow("stop", [step("long", seconds=60), step("after", "long")]))
    await zf.wait_for(
        "stop",
        lambda o: bool(o.get("status")) and step_status(o, "long").get("phase") == "Running",
        what="long running",
    )
    await zf.patch("stop", {"metadata": {"annotations": {ANNOTATION_CANCEL: "true"}}})
    done = await zf.wait_phase("stop")
    assert (done["status"]["phase"], done["status"]["reason"]) == ("Failed", "Cancelled")
    assert step_status(done, "long")["reason"] == "Cancelled"
    assert step_status(done, "after")["phase"] == "Skipped"


async def test_manual_step_waits_for_approval(zf: Running) -> None:
    await zf.create(
        jobflow(
            "gate",
            [
                step("build"),
                {
                    "name": "approve",
                    "type": "Manual",
                    "message": "ship it?",
                    "dependencies": ["build"],
                },
                step("deploy", "approve"),
            ],
        )
    )
    waiting = await zf.wait_for(
        "gate",
        lambda o: bool(o.get("status")) and step_status(o, "approve").get("phase") == "Waiting",
        what="approval wait",
    )
    assert step_status(waiting, "approve")["message"] == "ship it?"
    assert step_status(waiting, "deploy")["phase"] == "Pending"
    await zf.patch("gate", {"metadata": {"annotations": {ANNOTATION_APPROVE: "approve"}}})
    done = await zf.wait_phase("gate")
    assert done["status"]["phase"] == "Succeeded"
    assert step_status(done, "approve")["reason"] == "Approved"


async def test_retry_annotations_rerun_steps_once_per_nonce(zf: Running) -> None:
    await zf.create(jobflow("again", [step("ok"), step("bad", exit_code=1), step("after", "bad")]))
    first = await zf.wait_phase("again")
    assert first["status"]["phase"] == "Failed"
    # Whole-flow retry: failed and skipped steps run again as new attempts; "ok" is kept.
    await zf.patch("again", {"metadata": {"annotations": {ANNOTATION_RETRY: "n1"}}})
    second = await zf.wait_for(
        "again",
        lambda o: (
            o["status"].get("retryNonce") == "n1"
            and o["status"]["phase"] in ("Succeeded", "Failed")
        ),
        what="retry n1 done",
    )
    names = sorted(j["metadata"]["name"] for j in await zf.jobs("again"))
    assert names == ["again-bad-1", "again-bad-2", "again-ok-1"]
    # Step retry: "ok" and its dependents (none) run again; the nonce is acted on once. (A
    # failure left from before the retry does not stop the re-run under failFast; retry in a
    # later second than that failure, as timestamps have whole seconds.)
    await _next_second({"metadata": {"creationTimestamp": second["status"]["completionTime"]}})
    await zf.patch(
        "again",
        {"metadata": {"annotations": {ANNOTATION_RETRY: "n2", ANNOTATION_RETRY_STEP: "ok"}}},
    )
    done = await zf.wait_for(
        "again",
        lambda o: (
            o["status"].get("retryNonce") == "n2"
            and o["status"]["phase"] in ("Succeeded", "Failed")
        ),
        what="retry n2 done",
    )
    assert step_status(done, "ok")["attempt"] == 2

    async def ok_ran_once_more() -> bool:
        names = sorted(j["metadata"]["name"] for j in await zf.jobs("again"))
        want = ["again-bad-1", "again-bad-2", "again-ok-1", "again-ok-2"]
        assert names == want, (names, done["status"]["steps"])
        return True

    # A reconcile that saw retry n2 done (the nonce still on the flow) re-ran nothing.
    await consistently(ok_ran_once_more, until=zf.reconciled("again"), what="n2 acted on once")
    await zf.jobflow.recorder.flush()
    assert "FlowRetried" in [e["reason"] for e in await zf.events("again")]
