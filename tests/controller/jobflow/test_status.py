"""End to end on the real control plane (items 9-10 of issue 5): status, Events, metrics,
outputs, invalid flows.

Aspects: Events on the JobFlow for step start, success, failure, retry, skip and the flow's end;
the status is written only when it changed (five forced reconciles of a finished flow, each
begun after the caches held it, leave its resourceVersion alone) and a few writes per step; the
controller caches flows and Jobs without managedFields and drops its copies of status-patch
responses once the watch caught up; Prometheus metrics count flows by phase and step durations;
outputs from a termination message reach a dependent's Job and a ``when``; a flow the webhook
would have refused ends Failed with reason Invalid and the validator's message, and the
controller keeps working, and fixing its spec starts it afresh; a Job the API server rejects
fails its step (JobRejected).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.jobflows import (
    Running,
    condition,
    jobflow,
    step,
    step_status,
)
from tests.support.wait import eventually
from zenflow.machinery.reconcile import make_key

pytestmark = pytest.mark.integration


async def test_events_for_every_step_transition(zf: Running) -> None:
    await zf.create(
        jobflow(
            "ev",
            [
                step("ok"),
                step("bad", "ok", exit_code=1, retryPolicy={"limit": 1}),
                step("never", "bad"),
            ],
        )
    )
    await zf.wait_phase("ev")
    wanted = {
        "StepStarted",
        "StepSucceeded",
        "StepRetrying",
        "StepFailed",
        "StepSkipped",
        "FlowFailed",
    }
    counts: dict[str, int] = {}

    async def all_recorded() -> bool:
        # The status can be read before the reconcile that wrote it queued its Events.
        nonlocal counts
        await zf.jobflow.recorder.flush()
        counts = {}
        for e in await zf.events("ev"):
            counts[e["reason"]] = counts.get(e["reason"], 0) + (e.get("count") or 1)
        return wanted <= set(counts)

    await eventually(all_recorded, within=10, what="all Events recorded")
    # Repeats are one Event with a count: ok, bad attempt 1, bad attempt 2.
    assert counts["StepStarted"] == 3
    (started,) = [e for e in await zf.events("ev") if e["reason"] == "StepStarted"]
    assert 'step "ok" started' in started["message"]
    assert 'step "bad" started' in started["message"]
    (event,) = [e for e in await zf.events("ev") if e["reason"] == "FlowFailed"]
    assert event["involvedObject"]["kind"] == "JobFlow"
    assert event["type"] == "Warning"


async def test_status_is_written_only_when_it_changes(zf: Running) -> None:
    steps = 5
    # This flow's status writes, as the controller's own flow cache sees them (the reconciler's
    # write counter is shared with every other flow of the module's controller).
    writes: list[str] = []

    def on_update(old: dict[str, Any], new: dict[str, Any]) -> None:
        if new["metadata"]["name"] == "quiet" and old.get("status") != new.get("status"):
            writes.append(new["metadata"]["resourceVersion"])

    zf.jobflow.informers.jobflows.add_event_handler(on_update=on_update)
    await zf.create(
        jobflow("quiet", [step(f"s{i}", *([f"s{i - 1}"] if i else [])) for i in range(steps)])
    )
    done = await zf.wait_phase("quiet")
    assert done["status"]["phase"] == "Succeeded"
    await zf.reconciled("quiet")  # the cache holds the flow at its final version
    # Each step costs one Job create and about one status write (start and finish of
    # consecutive steps share a patch).
    assert len(writes) <= steps + 2, writes
    seen = len(writes)
    before = done["metadata"]["resourceVersion"]
    reconciles = zf.jobflow.controller.reconciles
    for _ in range(5):
        await zf.reconciled("quiet")
    assert zf.jobflow.controller.reconciles >= reconciles + 5
    after = await zf.get("quiet")
    assert after["metadata"]["resourceVersion"] == before
    assert len(writes) == seen


async def test_caches_hold_stripped_objects_and_no_stale_written_copy(zf: Running) -> None:
    await zf.create(jobflow("lean", [step("a"), step("b", "a")]))
    done = await zf.wait_phase("lean")
    assert done["status"]["phase"] == "Succeeded"
    assert done["metadata"].get("managedFields")  # the API server keeps them ...
    jobs = await zf.jobs("lean")
    assert len(jobs) == 2
    assert all(j["metadata"].get("managedFields") for j in jobs)
    informers = zf.jobflow.informers
    cached = informers.jobflows.store.get(make_key(zf.namespace, "lean"))
    assert cached is not None
    assert "managedFields" not in cached["metadata"]  # ... the controller's caches do not
    for job in jobs:
        cached_job = informers.jobs.store.get(make_key(zf.namespace, job["metadata"]["name"]))
        assert cached_job is not None
        assert "managedFields" not in cached_job["metadata"]
    # The copies the reconciler kept of its status patches are gone once the watch caught up.
    uid = done["metadata"]["uid"]

    async def dropped() -> bool:
        return uid not in zf.jobflow.reconciler._written

    await eventually(dropped, within=10, what="written copy dropped")


async def test_metrics_count_flows_and_step_durations(zf: Running) -> None:
    await zf.create(jobflow("metered", [step("a", seconds=0.2)]))
    await zf.wait_phase("metered")
    registry = zf.manager.registry
    succeeded = registry.get_sample_value("zenflow_jobflows", {"phase": "Succeeded"})
    assert succeeded is not None
    assert succeeded >= 1
    count = registry.get_sample_value("zenflow_step_duration_seconds_count", {"phase": "Succeeded"})
    assert count is not None
    assert count >= 1
    created = registry.get_sample_value("zenflow_jobs_created_total")
    assert created is not None
    assert created >= 1


async def test_outputs_flow_into_templates_and_when(zf: Running) -> None:
    consumer = step("use", "produce", when="steps.produce.outputs.count == '3'")
    container = consumer["template"]["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [{"name": "COUNT", "value": "{{ steps.produce.outputs.count }}"}]
    await zf.create(
        jobflow(
            "out",
            [
                step("produce", message='{"count": 3, "name": "x"}', outputs=[{"name": "count"}]),
                consumer,
                step("skipme", "produce", when="steps.produce.outputs.count == '4'"),
            ],
        )
    )
    done = await zf.wait_phase("out")
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert step_status(done, "produce")["outputs"] == {"count": "3"}
    assert step_status(done, "skipme")["phase"] == "Skipped"
    jobs = {j["metadata"]["name"]: j for j in await zf.jobs("out")}
    env = jobs["out-use-1"]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "COUNT", "value": "3"} in env


async def test_invalid_flow_fails_with_the_validators_message(zf: Running) -> None:
    await zf.create(jobflow("loop", [step("a", "b"), step("b", "a")]))
    done = await zf.wait_phase("loop")
    status = done["status"]
    assert (status["phase"], status["reason"]) == ("Failed", "Invalid")
    assert "cycle" in status["message"]
    failed = condition(done, "Failed")
    assert failed is not None
    assert failed["reason"] == "Invalid"
    assert "cycle" in failed["message"]
    assert await zf.jobs("loop") == []
    # The worker survived: a valid flow still runs.
    await zf.create(jobflow("fine", [step("a")]))
    assert (await zf.wait_phase("fine"))["status"]["phase"] == "Succeeded"


async def test_a_job_the_api_server_rejects_fails_its_step(zf: Running) -> None:
    bad = step("bad")
    container = bad["template"]["spec"]["template"]["spec"]["containers"][0]
    container["resources"] = {"limits": {"cpu": "lots"}}
    await zf.create(jobflow("rejected", [bad, step("after", "bad")]))
    done = await zf.wait_phase("rejected")
    st = step_status(done, "bad")
    assert (st["phase"], st["reason"]) == ("Failed", "JobRejected"), st
    assert "cpu" in st["message"] or "quantities" in st["message"]
    assert step_status(done, "after")["phase"] == "Skipped"
    assert done["status"]["phase"] == "Failed"


async def test_a_fixed_invalid_flow_starts_afresh(zf: Running) -> None:
    await zf.create(jobflow("fixme", [step("a", "b"), step("b", "a")]))
    broken = await zf.wait_phase("fixme")
    assert broken["status"]["reason"] == "Invalid"
    await zf.patch("fixme", {"spec": {"steps": [step("a"), step("b", "a")]}})
    done = await zf.wait_for(
        "fixme",
        lambda o: (o.get("status") or {}).get("phase") == "Succeeded",
        what="fixed flow succeeded",
    )
    assert done["status"]["observedGeneration"] == 2
    assert [j["metadata"]["name"] for j in await zf.jobs("fixme")] == ["fixme-a-1", "fixme-b-1"]
