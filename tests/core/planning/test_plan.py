"""The pure reconcile decision (zenflow.core.planning.plan / steps / derive).

Aspects: dependency order and hand-off (a diamond), readiness and failure (continueOnFailure,
UpstreamFailed skips naming the step, when true/false, WhenFalse skips count as satisfied,
fail-fast and failFast false, running siblings keep the flow running), parallelism, suspend,
retries (backoff → Retrying with nextRetryTime and requeue_after, then a new attempt with
retryCount; the flow-wide backoffLimit), the flow deadline, cancel, Replace and Forbid,
resource templates and conflicts, TTL, finally steps, Manual approval, crash-recovery cases
(a Job missing from the cache is re-created under the same name, a foreign Job is a
JobConflict), idempotence (re-planning an unchanged world changes nothing), events, and user
retries once per nonce.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.core.planning.driver import T0, UID, Driver, at, job, make_flow, record
from zenflow.api.constants import (
    ANNOTATION_APPROVE,
    ANNOTATION_CANCEL,
    ANNOTATION_RETRY,
    ANNOTATION_RETRY_STEP,
    LABEL_CONCURRENCY_GROUP,
)
from zenflow.core.observed import Observed, PeerFlow
from zenflow.core.planning.plan import plan


def test_diamond_runs_in_dependency_order() -> None:
    d = Driver(make_flow(job("a"), job("b", "a"), job("c", "a"), job("d", "b", "c")))
    first = d.step()
    assert [c.step for c in first.creates] == ["a"]
    assert (d.status().phase, d.status().progress) == ("Running", "0/4")
    d.set(record("a", "Succeeded"))
    second = d.step()
    assert sorted(c.step for c in second.creates) == ["b", "c"]
    d.set(record("b", "Succeeded"))
    assert d.step().creates == []  # d still waits for c
    d.set(record("c", "Succeeded"))
    assert [c.step for c in d.step().creates] == ["d"]
    d.set(record("d", "Succeeded"))
    last = d.step()
    assert (d.status().phase, d.status().progress) == ("Succeeded", "4/4")
    assert [e.reason for e in last.events] == ["StepSucceeded", "FlowSucceeded"]
    assert d.created == ["f-a-1", "f-b-1", "f-c-1", "f-d-1"]


def test_spec_order_does_not_matter() -> None:
    d = Driver(make_flow(job("late", "early"), job("early")))
    assert [c.step for c in d.step().creates] == ["early"]


@pytest.mark.parametrize(
    ("upstream", "downstream", "expected"),
    [
        pytest.param({}, {}, ("Skipped", "UpstreamFailed"), id="failed-upstream-skips"),
        pytest.param(
            {"continueOnFailure": True}, {}, ("Running", None), id="continue-on-failure-runs"
        ),
        pytest.param(
            {}, {"when": "steps.a.phase == 'Failed'"}, ("Running", None), id="when-true-runs"
        ),
        pytest.param(
            {}, {"when": "steps.a.phase == 'Succeeded'"}, ("Skipped", "WhenFalse"), id="when-false"
        ),
        pytest.param({}, {"when": "1 + 1"}, ("Failed", "WhenError"), id="when-not-bool"),
    ],
)
def test_readiness_after_a_failure(
    upstream: dict[str, object], downstream: dict[str, object], expected: tuple[str, str | None]
) -> None:
    d = Driver(
        make_flow(
            job("a", **upstream), job("b", "a", **downstream), executionPolicy={"failFast": False}
        )
    )
    d.step()
    d.set(record("a", "Failed"))
    d.step()
    st = d.step_status("b")
    assert (st.phase, st.reason) == expected
    if expected[1] == "UpstreamFailed":
        assert st.message == 'upstream step "a" Failed'


def test_a_step_skipped_by_its_own_when_does_not_block_dependents() -> None:
    d = Driver(make_flow(job("a", when="false"), job("b", "a")))
    result = d.step()
    assert d.step_status("a").reason == "WhenFalse"
    assert [c.step for c in result.creates] == ["b"]


def test_skips_propagate_with_the_upstream_name() -> None:
    d = Driver(make_flow(job("a"), job("b", "a"), job("c", "b")))
    d.step()
    d.set(record("a", "Failed"))
    d.step()
    c = d.step_status("c")
    assert (c.phase, c.reason, c.message) == (
        "Skipped",
        "UpstreamSkipped",
        'upstream step "b" Skipped',
    )
    assert d.status().phase == "Failed"
    assert d.status().reason == "StepFailed"
    assert str(d.status().message).startswith('step "a" failed: BackoffLimitExceeded')


def test_fail_fast_starts_nothing_new_but_running_steps_finish() -> None:
    d = Driver(
        make_flow(job("root"), job("bad", "root"), job("slow", "root"), job("after", "slow"))
    )
    d.step()
    d.set(record("root", "Succeeded"))
    d.step()
    d.set(record("bad", "Failed"))
    d.step()
    assert d.status().phase == "Running"  # slow still runs
    d.set(record("slow", "Succeeded"))
    result = d.step()
    assert result.creates == []
    after = d.step_status("after")
    assert (after.phase, after.reason) == ("Skipped", "FailFast")
    assert d.status().phase == "Failed"


def test_fail_fast_false_lets_independent_branches_go_on() -> None:
    d = Driver(
        make_flow(
            job("bad"), job("slow"), job("after", "slow"), executionPolicy={"failFast": False}
        )
    )
    d.step()
    d.set(record("bad", "Failed"), record("slow", "Succeeded"))
    assert [c.step for c in d.step().creates] == ["after"]


def test_parallelism_caps_running_steps() -> None:
    d = Driver(make_flow(*(job(f"s{i}") for i in range(5)), executionPolicy={"parallelism": 2}))
    assert len(d.step().creates) == 2
    assert d.step_status("s2").message == "waiting for a parallelism slot"
    d.set(record("s0", "Succeeded"))
    assert [c.step for c in d.step().creates] == ["s2"]


def test_suspend_holds_new_steps_and_leaves_running_ones() -> None:
    d = Driver(make_flow(job("a"), job("b", "a"), suspend=True))
    assert d.step().creates == []
    assert d.status().phase == "Suspended"
    cond = {c.type: c for c in d.status().conditions or []}
    assert cond["Suspended"].status == "True"
    d.flow = d.flow.model_copy(update={"spec": d.flow.spec.model_copy(update={"suspend": False})})
    assert [c.step for c in d.step().creates] == ["a"]
    assert {c.type: c for c in d.status().conditions or []}["Suspended"].status == "False"


def test_retry_waits_out_the_backoff_then_creates_the_next_attempt() -> None:
    policy = {"limit": 2, "backoff": {"type": "Exponential", "duration": "10s", "factor": 3}}
    d = Driver(make_flow(job("x", retryPolicy=policy)))
    d.step()
    d.set(record("x", "Failed", finished=1))
    waiting = d.step(at(2))
    st = d.step_status("x")
    assert (st.phase, st.next_retry_time) == ("Retrying", at(11))
    assert waiting.requeue_after == pytest.approx(9.0)
    assert [e.reason for e in waiting.events] == ["StepRetrying"]
    assert d.step(at(10)).creates == []
    second = d.step(at(11))
    assert [c.manifest["metadata"]["name"] for c in second.creates] == ["f-x-2"]
    annotations = second.creates[0].manifest["metadata"]["annotations"]
    assert annotations["workflow.zen.io/retry-count"] == "1"
    assert d.step_status("x").retry_count == 1
    d.set(record("x", "Failed", attempt=2, retry_count=1, finished=12))
    d.step(at(13))
    assert d.step_status("x").next_retry_time == at(42)  # 10s * 3
    d.set(record("x", "Failed", attempt=3, retry_count=2, finished=50))
    d.step(at(51))
    st = d.step_status("x")
    assert (st.phase, st.retry_count, st.attempt) == ("Failed", 2, 3)
    assert d.status().retries == 2


def test_backoff_limit_is_shared_by_all_steps() -> None:
    d = Driver(
        make_flow(
            job("x", retryPolicy={"limit": 5}),
            job("y", retryPolicy={"limit": 5}),
            executionPolicy={"backoffLimit": 1, "failFast": False},
        )
    )
    d.step()
    d.set(record("x", "Failed"), record("y", "Failed"))
    result = d.step()
    assert len(result.creates) == 1
    failed = [s for s in ("x", "y") if d.step_status(s).phase == "Failed"]
    assert len(failed) == 1
    assert d.step_status(failed[0]).reason == "BackoffLimitExceeded"


def test_flow_deadline_deletes_running_jobs_and_fails_the_flow() -> None:
    d = Driver(make_flow(job("a"), job("b", "a"), executionPolicy={"activeDeadlineSeconds": 30}))
    first = d.step(T0)
    assert first.requeue_after == pytest.approx(30.0)
    result = d.step(at(31))
    assert result.deletes == ["f-a-1"]
    status = d.status()
    assert (status.phase, status.reason) == ("Failed", "DeadlineExceeded")
    assert (d.step_status("a").phase, d.step_status("a").reason) == ("Failed", "DeadlineExceeded")
    assert d.step_status("b").phase == "Skipped"
    assert [e.reason for e in result.events][-1] == "FlowFailed"


def test_cancel_annotation_terminates() -> None:
    d = Driver(make_flow(job("a")))
    d.step()
    d.flow = d.flow.model_copy(
        update={"metadata": {**d.flow.metadata, "annotations": {ANNOTATION_CANCEL: "true"}}}
    )
    result = d.step()
    assert result.deletes == ["f-a-1"]
    assert (d.status().phase, d.status().reason) == ("Failed", "Cancelled")


def _peer(
    name: str, seconds: float, *, policy: str, finished: bool = False, started: bool = True
) -> PeerFlow:
    return PeerFlow(
        name=name, created=at(seconds), policy=policy, finished=finished, started=started
    )


def test_forbid_queues_behind_the_running_flow() -> None:
    flow = make_flow(
        job("a"),
        executionPolicy={"concurrencyPolicy": "Forbid"},
        labels={LABEL_CONCURRENCY_GROUP: "g"},
    )
    d = Driver(flow)
    result = d.step(at(5), peers=[_peer("older", -5, policy="Forbid")])
    assert result.creates == []
    status = d.status()
    assert (status.phase, status.reason) == ("Pending", "Queued")
    queued = {c.type: c for c in status.conditions or []}["Queued"]
    assert queued.status == "True"
    assert queued.message is not None
    assert "older" in queued.message
    # The older flow finished: go.
    result = d.step(at(6), peers=[_peer("older", -5, policy="Forbid", finished=True)])
    assert [c.step for c in result.creates] == ["a"]


def test_replace_cancels_the_older_flow() -> None:
    d = Driver(make_flow(job("a")))
    d.step()
    result = d.step(at(1), peers=[_peer("newer", 60, policy="Replace", started=False)])
    assert result.deletes == ["f-a-1"]
    assert (d.status().phase, d.status().reason) == ("Failed", "Replaced")


def test_resource_templates_are_ensured_before_the_first_step_and_conflicts_fail() -> None:
    flow = make_flow(
        job("a"), resourceTemplates={"configMapTemplates": [{"metadata": {"name": "cfg"}}]}
    )
    first = Driver(flow).step()
    assert [r["kind"] for r in first.resources] == ["ConfigMap"]
    d = Driver(flow)
    result = d.step(
        resource_conflict="ConfigMap cfg already exists and is not owned by this JobFlow"
    )
    assert result.creates == []
    assert (d.status().phase, d.status().reason) == ("Failed", "ResourceConflict")


def test_resource_templates_are_full_manifests_owned_by_the_flow() -> None:
    flow = make_flow(
        job("a"),
        resourceTemplates={
            "volumeClaimTemplates": [{"metadata": {"name": "data", "labels": {"k": "v"}}}],
            "configMapTemplates": [{"metadata": {"name": "cfg"}, "data": {"x": "1"}}],
        },
    )
    pvc, cm = Driver(flow).step().resources
    assert (pvc["apiVersion"], pvc["kind"], cm["kind"]) == (
        "v1",
        "PersistentVolumeClaim",
        "ConfigMap",
    )
    assert pvc["metadata"] == {
        "name": "data",
        "labels": {"k": "v"},
        "namespace": "ns",
        "ownerReferences": [
            {
                "apiVersion": "workflow.zen.io/v1alpha1",
                "kind": "JobFlow",
                "name": "f",
                "uid": UID,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    assert (cm["metadata"]["namespace"], cm["data"]) == ("ns", {"x": "1"})


@pytest.mark.parametrize(
    ("ttl", "now", "delete", "requeue"),
    [
        pytest.param(None, 100, False, None, id="unset-keeps"),
        pytest.param(60, 30, False, 30.0, id="waits"),
        pytest.param(60, 60, True, None, id="expired"),
    ],
)
def test_ttl_after_finished(
    ttl: int | None, now: float, delete: bool, requeue: float | None
) -> None:
    policy = {"ttlSecondsAfterFinished": ttl} if ttl is not None else {}
    d = Driver(make_flow(job("a"), executionPolicy=policy))
    d.step()
    d.set(record("a", "Succeeded"))
    d.step(T0)
    result = d.step(at(now))
    assert result.delete_flow is delete
    assert result.requeue_after == requeue


def test_finally_steps_run_after_everything_else() -> None:
    d = Driver(make_flow(job("a"), job("b"), finally_=[job("cleanup")]))
    d.step()
    d.set(record("a", "Failed"))
    assert d.step().creates == []  # b still runs
    d.set(record("b", "Succeeded"))
    assert [c.step for c in d.step().creates] == ["cleanup"]
    d.set(record("cleanup", "Succeeded"))
    d.step()
    assert d.status().phase == "Failed"


def test_manual_step_waits_for_approval() -> None:
    flow = make_flow({"name": "gate", "type": "Manual", "message": "ok?"}, job("go", "gate"))
    d = Driver(flow)
    assert d.step().creates == []
    assert (d.step_status("gate").phase, d.step_status("gate").message) == ("Waiting", "ok?")
    d.flow = d.flow.model_copy(
        update={"metadata": {**d.flow.metadata, "annotations": {ANNOTATION_APPROVE: "gate"}}}
    )
    result = d.step()
    assert d.step_status("gate").reason == "Approved"
    assert [c.step for c in result.creates] == ["go"]


def test_a_foreign_job_with_our_name_is_a_conflict() -> None:
    d = Driver(make_flow(job("a")))
    d.step(
        create_conflicts={
            "a": ("JobConflict", "Job f-a-1 already exists and is not owned by this JobFlow")
        }
    )
    st = d.step_status("a")
    assert (st.phase, st.reason) == ("Failed", "JobConflict")


def test_replanning_an_unchanged_world_changes_nothing() -> None:
    d = Driver(make_flow(job("a"), job("b", "a"), job("c")))
    d.step()
    d.set(record("a", "Succeeded"))
    d.step(at(1))
    before = d.status()
    again = d.step(at(5))
    assert again.creates == []
    assert again.events == []
    assert again.status.dump() == before.dump()


def test_user_retry_reruns_failed_steps_once_per_nonce() -> None:
    d = Driver(make_flow(job("ok"), job("bad"), job("after", "bad")))
    d.step()
    d.set(record("ok", "Succeeded"), record("bad", "Failed"))
    d.step()
    assert d.status().phase == "Failed"
    d.flow = d.flow.model_copy(
        update={"metadata": {**d.flow.metadata, "annotations": {ANNOTATION_RETRY: "n1"}}}
    )
    result = d.step(at(5))
    assert [c.manifest["metadata"]["name"] for c in result.creates] == ["f-bad-2"]
    assert d.status().retry_nonce == "n1"
    assert result.events[0].reason == "FlowRetried"
    d.set(record("bad", "Succeeded", attempt=2))
    assert [c.manifest["metadata"]["name"] for c in d.step(at(6)).creates] == ["f-after-1"]
    d.set(record("after", "Succeeded"))
    d.step(at(7))
    assert d.status().phase == "Succeeded"
    # The same nonce again: nothing happens.
    assert d.step(at(8)).creates == []


def test_user_retry_planned_again_before_its_status_is_written_keeps_its_attempt() -> None:
    """A retry whose status write was set aside (a conflict elsewhere) or lost (a crash) is
    planned again from the same finished status, with the Job it created now in the cache:
    it must create the same attempt (adopted) and not start the step a second time."""
    d = Driver(make_flow(job("ok"), job("bad")))
    d.step()
    d.set(record("ok", "Succeeded"), record("bad", "Failed"))
    d.step()
    flow = d.flow.model_copy(
        update={"metadata": {**d.flow.metadata, "annotations": {ANNOTATION_RETRY: "n1"}}}
    )
    first = plan(flow, Observed(jobs=d.jobs), at(5))
    assert [c.manifest["metadata"]["name"] for c in first.creates] == ["f-bad-2"]
    jobs = {**d.jobs, "bad": [*d.jobs["bad"], record("bad", "Running", attempt=2)]}
    again = plan(flow, Observed(jobs=jobs), at(6))
    assert [c.manifest["metadata"]["name"] for c in again.creates] in ([], ["f-bad-2"])
    assert again.status.steps is not None
    bad = next(s for s in again.status.steps if s.name == "bad")
    assert (bad.phase, bad.attempt, bad.job_ref) == ("Running", 2, "f-bad-2")


def test_retry_step_reruns_the_step_and_its_dependents() -> None:
    d = Driver(make_flow(job("a"), job("b", "a"), job("c")))
    d.step()
    d.set(record("a", "Succeeded"), record("c", "Succeeded"))
    d.step()
    d.set(record("b", "Succeeded"))
    d.step()
    annotations = {ANNOTATION_RETRY: "n", ANNOTATION_RETRY_STEP: "a"}
    d.flow = d.flow.model_copy(update={"metadata": {**d.flow.metadata, "annotations": annotations}})
    assert [c.manifest["metadata"]["name"] for c in d.step(at(5)).creates] == ["f-a-2"]
    assert d.step_status("b").phase == "Pending"
    assert d.step_status("c").phase == "Succeeded"


def test_job_manifest_of_a_step() -> None:
    flow = make_flow(
        job(
            "build",
            timeoutSeconds=30,
            metadata={"labels": {"team": "x"}, "annotations": {"note": "y"}},
            inputs=[{"name": "WHO", "value": "{{ params.who }}"}],
        ),
        params=[{"name": "who", "default": "world"}],
        env=[{"name": "GLOBAL", "value": "1"}],
        executionPolicy={"podFailurePolicy": {"rules": []}},
    )
    (create,) = Driver(flow).step().creates
    m = create.manifest
    assert m["metadata"]["name"] == "f-build-1"
    assert m["metadata"]["labels"] == {
        "team": "x",
        "jobflow": "f",
        "workflow.zen.io/jobflow": "f",
        "workflow.zen.io/step": "build",
        "workflow.zen.io/attempt": "1",
        "app.kubernetes.io/managed-by": "zenflow",
    }
    assert m["metadata"]["ownerReferences"][0]["uid"] == UID
    assert m["spec"]["activeDeadlineSeconds"] == 30
    assert m["spec"]["backoffLimit"] == 0
    assert m["spec"]["podFailurePolicy"] == {"rules": []}
    pod = m["spec"]["template"]
    assert pod["metadata"]["labels"]["jobflow"] == "f"
    assert pod["metadata"]["annotations"] == {"note": "y"}
    (container,) = pod["spec"]["containers"]
    assert container["env"] == [{"name": "GLOBAL", "value": "1"}, {"name": "WHO", "value": "world"}]


def test_outputs_feed_templates_of_dependents() -> None:
    consumer = job("use", "make", inputs=[{"name": "N", "value": "{{ steps.make.outputs.n }}"}])
    d = Driver(make_flow(job("make", outputs=[{"name": "n"}]), consumer))
    d.step()
    d.set(record("make", "Succeeded"))
    (create,) = d.step(outputs={"make": {"n": "7"}}).creates
    env = create.manifest["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "N", "value": "7"}]
    assert d.step_status("make").outputs == {"n": "7"}
    # Outputs are remembered by the status: later plans need not read them again.
    d.step(at(3))
    assert d.step_status("make").outputs == {"n": "7"}


def test_conditions_keep_their_transition_time() -> None:
    d = Driver(make_flow(job("a")))
    d.step(T0)
    ready = {c.type: c for c in d.status().conditions or []}["Ready"]
    d.step(T0 + timedelta(seconds=30))
    again = {c.type: c for c in d.status().conditions or []}["Ready"]
    assert again.last_transition_time == ready.last_transition_time == T0


def test_a_running_flow_says_what_it_is_doing() -> None:
    d = Driver(make_flow(*(job(f"s{i}") for i in range(5)), {"name": "gate", "type": "Manual"}))
    d.step()
    assert d.status().message == "running: s0, s1, s2 (+2 more); waiting: gate"
