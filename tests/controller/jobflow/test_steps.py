"""End to end on the real control plane (items 1-4 of issue 5): step execution, readiness and
failure, retries, time limits.

Aspects: a diamond runs in dependency order with Jobs named per (flow, step, attempt), labelled
``jobflow=<flow>`` and owned by the flow; continueOnFailure lets dependents run and the flow
Succeeds; a failure without it fails the flow, skips dependents and lets a running sibling
finish; failFast false lets independent branches go on; parallelism caps running steps;
exponential retries create attempts at the configured spacing and count retryCount; the
flow-wide backoffLimit stops retries; a step timeout fails the attempt (DeadlineExceeded); a
flow deadline terminates running Jobs (flow Failed, DeadlineExceeded); podFailurePolicy reaches
the Job; a matrix taken from an upstream output fans out one Job per value and its dependent
waits for all of them; a Job name held by a Job the flow does not own fails the step
(JobConflict) and the foreign Job is left alone.
"""

from __future__ import annotations

from datetime import datetime
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
from zenflow.api.constants import LABEL_ATTEMPT, LABEL_JOBFLOW, LABEL_MANAGED_BY, LABEL_STEP

pytestmark = pytest.mark.integration


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_diamond_runs_in_dependency_order(zf: Running) -> None:
    flow = jobflow(
        "diamond",
        [
            step("a", seconds=0.3),
            step("b", "a", seconds=0.5),
            step("c", "a", seconds=0.2),
            step("d", "b", "c"),
        ],
    )
    created = await zf.create(flow)
    done = await zf.wait_phase("diamond")
    status = done["status"]
    assert status["phase"] == "Succeeded", status
    assert status["progress"] == "4/4"
    steps = {n: step_status(done, n) for n in "abcd"}
    assert all(s["phase"] == "Succeeded" for s in steps.values())
    # Each step started after its dependencies finished.
    for name, deps in {"b": "a", "c": "a", "d": "bc"}.items():
        for dep in deps:
            assert _ts(steps[name]["startTime"]) >= _ts(steps[dep]["completionTime"])
    jobs = {j["metadata"]["name"]: j for j in await zf.jobs("diamond")}
    assert sorted(jobs) == ["diamond-a-1", "diamond-b-1", "diamond-c-1", "diamond-d-1"]
    for name, job in jobs.items():
        labels = job["metadata"]["labels"]
        assert labels["jobflow"] == "diamond"
        assert labels[LABEL_JOBFLOW] == "diamond"
        assert labels[LABEL_STEP] == name.split("-")[1]
        assert labels[LABEL_ATTEMPT] == "1"
        assert labels[LABEL_MANAGED_BY] == "zenflow"
        assert job["spec"]["template"]["metadata"]["labels"]["jobflow"] == "diamond"
        (owner,) = job["metadata"]["ownerReferences"]
        assert owner["uid"] == created["metadata"]["uid"]
        assert owner["controller"] is True
        assert owner["blockOwnerDeletion"] is True
    created_at = {n: _ts(j["metadata"]["creationTimestamp"]) for n, j in jobs.items()}
    assert created_at["diamond-a-1"] <= created_at["diamond-b-1"] <= created_at["diamond-d-1"]
    assert created_at["diamond-c-1"] <= created_at["diamond-d-1"]
    assert status["observedGeneration"] == created["metadata"]["generation"]
    ready = condition(done, "Ready")
    completed = condition(done, "Completed")
    assert ready is not None
    assert ready["status"] == "True"
    assert completed is not None
    assert completed["status"] == "True"


async def test_continue_on_failure_lets_dependents_run(zf: Running) -> None:
    await zf.create(
        jobflow(
            "cof",
            [
                step("flaky", exit_code=3, continueOnFailure=True),
                step("after", "flaky"),
            ],
        )
    )
    done = await zf.wait_phase("cof")
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert step_status(done, "flaky")["phase"] == "Failed"
    assert step_status(done, "after")["phase"] == "Succeeded"


async def test_failure_fails_flow_skips_dependents_and_lets_siblings_finish(zf: Running) -> None:
    await zf.create(
        jobflow(
            "ff",
            [
                step("root"),
                step("bad", "root", exit_code=2),
                step("slow", "root", seconds=2.0),
                step("child", "bad"),
                step("later", "slow"),
            ],
        )
    )
    done = await zf.wait_phase("ff")
    status = done["status"]
    assert status["phase"] == "Failed"
    assert status["reason"] == "StepFailed"
    assert 'step "bad" failed' in status["message"]
    failed = condition(done, "Failed")
    assert failed is not None
    assert failed["status"] == "True"
    assert failed["reason"] == "StepFailed"
    assert step_status(done, "bad")["phase"] == "Failed"
    child = step_status(done, "child")
    assert (child["phase"], child["reason"]) == ("Skipped", "UpstreamFailed")
    assert '"bad"' in child["message"]
    # The sibling that was running went on to success; what would start after it did not.
    assert step_status(done, "slow")["phase"] == "Succeeded"
    later = step_status(done, "later")
    assert (later["phase"], later["reason"]) == ("Skipped", "FailFast")
    names = sorted(j["metadata"]["name"] for j in await zf.jobs("ff"))
    assert names == ["ff-bad-1", "ff-root-1", "ff-slow-1"]


async def test_fail_fast_false_lets_independent_branches_go_on(zf: Running) -> None:
    await zf.create(
        jobflow(
            "nff",
            [
                step("bad", exit_code=1),
                step("slow", seconds=1.0),
                step("later", "slow"),
                step("child", "bad"),
            ],
            executionPolicy={"failFast": False},
        )
    )
    done = await zf.wait_phase("nff")
    assert done["status"]["phase"] == "Failed"
    assert step_status(done, "later")["phase"] == "Succeeded"
    assert step_status(done, "child")["phase"] == "Skipped"


async def test_parallelism_caps_running_steps(zf: Running) -> None:
    await zf.create(
        jobflow(
            "par",
            [step(f"s{i}", seconds=0.8) for i in range(4)],
            executionPolicy={"parallelism": 2},
        )
    )
    done = await zf.wait_phase("par")
    assert done["status"]["phase"] == "Succeeded"
    spans = [(_ts(st["startTime"]), _ts(st["completionTime"])) for st in done["status"]["steps"]]
    # At no step start were more than 2 steps in flight (whole-second timestamps: compare
    # each start against steps that finished strictly later).
    for start, _ in spans:
        in_flight = sum(1 for s, e in spans if s <= start < e)
        assert in_flight <= 2, spans


async def test_exponential_retries_are_spaced_and_counted(zf: Running) -> None:
    await zf.create(
        jobflow(
            "retry",
            [
                step(
                    "flaky",
                    exit_code=1,
                    retryPolicy={
                        "limit": 2,
                        "backoff": {"type": "Exponential", "duration": "2s", "factor": 2},
                    },
                )
            ],
        )
    )
    done = await zf.wait_phase("retry", within=60)
    st = step_status(done, "flaky")
    assert (st["phase"], st["retryCount"], st["attempt"]) == ("Failed", 2, 3)
    assert done["status"]["retries"] == 2
    jobs = {int(j["metadata"]["labels"][LABEL_ATTEMPT]): j for j in await zf.jobs("retry")}
    assert sorted(jobs) == [1, 2, 3]

    def failed_at(job: dict[str, object]) -> datetime:
        conds = job["status"]["conditions"]  # type: ignore[index]
        (cond,) = [c for c in conds if c["type"] == "Failed"]
        return _ts(cond["lastTransitionTime"])

    def created(job: dict[str, object]) -> datetime:
        return _ts(job["metadata"]["creationTimestamp"])  # type: ignore[index]

    gap1 = (created(jobs[2]) - failed_at(jobs[1])).total_seconds()
    gap2 = (created(jobs[3]) - failed_at(jobs[2])).total_seconds()
    # Timestamps have whole-second precision: allow ±1 s around 2 s and 4 s.
    assert 1.0 <= gap1 <= 3.0, gap1
    assert 3.0 <= gap2 <= 5.0, gap2


async def test_backoff_limit_is_a_flow_wide_budget(zf: Running) -> None:
    policy = {"limit": 3}
    await zf.create(
        jobflow(
            "budget",
            [
                step("x", exit_code=1, retryPolicy=policy),
                step("y", exit_code=1, retryPolicy=policy),
            ],
            executionPolicy={"backoffLimit": 1, "failFast": False},
        )
    )
    done = await zf.wait_phase("budget")
    assert done["status"]["phase"] == "Failed"
    assert done["status"]["retries"] == 1
    assert len(await zf.jobs("budget")) == 3
    reasons = {step_status(done, n)["reason"] for n in "xy"}
    assert "BackoffLimitExceeded" in reasons


async def test_step_timeout_fails_the_attempt(zf: Running) -> None:
    await zf.create(jobflow("tmo", [step("sleepy", seconds=30, timeoutSeconds=1)]))
    done = await zf.wait_phase("tmo", within=45)
    st = step_status(done, "sleepy")
    assert (st["phase"], st["reason"]) == ("Failed", "DeadlineExceeded")
    (job,) = await zf.jobs("tmo")
    assert job["spec"]["activeDeadlineSeconds"] == 1
    assert job["spec"]["backoffLimit"] == 0
    assert done["status"]["reason"] == "StepFailed"


async def test_flow_deadline_terminates_running_jobs(zf: Running) -> None:
    await zf.create(
        jobflow(
            "dl",
            [step("long", seconds=60), step("next", "long")],
            executionPolicy={"activeDeadlineSeconds": 2},
        )
    )
    done = await zf.wait_phase("dl", within=30)
    status = done["status"]
    assert (status["phase"], status["reason"]) == ("Failed", "DeadlineExceeded")
    assert step_status(done, "long")["phase"] == "Failed"
    assert step_status(done, "long")["reason"] == "DeadlineExceeded"
    assert step_status(done, "next")["phase"] == "Skipped"
    # The running Job was deleted (gone, or going with a deletionTimestamp).

    async def deleted() -> bool:
        jobs = await zf.jobs("dl")
        assert all(j["metadata"].get("deletionTimestamp") for j in jobs), jobs
        return True

    await eventually(deleted, what="the running Job deleted", within=5)


async def test_pod_failure_policy_is_passed_to_each_job(zf: Running) -> None:
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]}
    await zf.create(
        jobflow("pfp", [step("boom", exit_code=42)], executionPolicy={"podFailurePolicy": policy})
    )
    done = await zf.wait_phase("pfp")
    (job,) = await zf.jobs("pfp")
    assert job["spec"]["podFailurePolicy"]["rules"][0]["action"] == "FailJob"
    st = step_status(done, "boom")
    assert (st["phase"], st["reason"]) == ("Failed", "PodFailurePolicy")


async def test_matrix_fans_out_from_an_upstream_output_and_fans_in(zf: Running) -> None:
    fan = step("work", "split", matrix={"from": {"part": "{{ steps.split.outputs.parts }}"}})
    container = fan["template"]["spec"]["template"]["spec"]["containers"][0]
    container["args"] = ["{{ matrix.part }}"]
    await zf.create(
        jobflow(
            "mx",
            [
                step("split", message='{"parts": ["p1", "p2", "p3"]}', outputs=[{"name": "parts"}]),
                fan,
                step("join", "work"),
            ],
        )
    )
    done = await zf.wait_phase("mx")
    assert done["status"]["phase"] == "Succeeded", done["status"]
    work = step_status(done, "work")
    assert [s["phase"] for s in work["shards"]] == ["Succeeded"] * 3
    jobs = {j["metadata"]["name"]: j for j in await zf.jobs("mx")}
    shards = sorted(n for n in jobs if n.startswith("mx-work-"))
    assert shards == ["mx-work-0-1", "mx-work-1-1", "mx-work-2-1"]
    args = [jobs[n]["spec"]["template"]["spec"]["containers"][0]["args"] for n in shards]
    assert args == [["p1"], ["p2"], ["p3"]]
    join_start = _ts(step_status(done, "join")["startTime"])
    assert join_start >= _ts(work["completionTime"])


async def test_a_job_name_held_by_a_foreign_job_fails_the_step(zf: Running) -> None:
    foreign: Any = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "held-a-1"},
        "spec": {
            "template": {
                "metadata": {"annotations": {"envtest.zenflow.io/exit-code": "0"}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "busybox", "command": ["true"]}],
                },
            }
        },
    }
    await zf.batch.create_namespaced_job(zf.namespace, foreign)
    await zf.create(jobflow("held", [step("a"), step("b", "a")]))
    done = await zf.wait_phase("held")
    st = step_status(done, "a")
    assert (st["phase"], st["reason"]) == ("Failed", "JobConflict")
    assert "held-a-1" in st["message"]
    assert step_status(done, "b")["phase"] == "Skipped"
    job = await zf.batch.read_namespaced_job("held-a-1", zf.namespace)
    assert not job.metadata.owner_references  # left alone, not adopted
