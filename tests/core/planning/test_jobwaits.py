"""Truthful history in the planner: Jobs that vanish, creates refused for now, the outputs cap.

Aspects: a Job deleted while its step runs (confirmed gone by the API server) is a failed attempt
(JobDeleted, a Warning Event, the retry policy decides; the next attempt has a new name, never
the same one again), while one merely missing from the cache is looked up, not failed, also when an
older attempt's Job is still there, and a Retrying step whose failed Job is deleted keeps its
schedule; a matrix shard likewise, and a succeeded shard whose Job is gone stays succeeded;
creates refused by a quota (or throttled) keep the step Pending with the quota in the step's and
the flow's message, back off (1 s, growing with the wait, at most 60 s), never fail anything,
and the Job is created once the quota allows it (which refusals are waits: quota, 429, 5xx, no
answer; not RBAC or an invalid Job); the flow's outputs cap drops what does not fit.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.core.planning.driver import Driver, at, job, make_flow, record
from zenflow.api.limits import MAX_FLOW_OUTPUTS_BYTES
from zenflow.core.planning.derive import unseen_jobs
from zenflow.core.planning.flowstatus import EventSpec
from zenflow.core.planning.jobwaits import create_refusal, create_retry_delay

QUOTA = (
    "QuotaExceeded",
    'jobs "f-a-1" is forbidden: exceeded quota: jobs, requested: count/jobs.batch=1, '
    "used: count/jobs.batch=1, limited: count/jobs.batch=1",
)


def names(result: Any) -> list[str]:
    return [c.manifest["metadata"]["name"] for c in result.creates]


def test_a_job_deleted_while_running_is_a_failed_attempt_never_a_rerun() -> None:
    d = Driver(make_flow(job("a"), job("b", "a")))
    assert names(d.step()) == ["f-a-1"]
    d.jobs.clear()  # kubectl delete job f-a-1
    result = d.step(now=at(5), vanished=frozenset({"f-a-1"}))
    assert result.creates == []
    st = d.step_status("a")
    assert (st.phase, st.reason, st.attempt) == ("Failed", "JobDeleted", 1)
    assert st.message == "Job f-a-1 was deleted while the step ran (attempt 1)"
    assert result.events[0] == EventSpec(
        "Warning",
        "JobDeleted",
        'step "a": Job f-a-1 was deleted while it ran; attempt 1 counts as failed',
    )
    assert d.status().phase == "Failed"
    assert d.step_status("b").phase == "Skipped"
    assert names(d.step(now=at(6))) == []


def test_the_retry_policy_decides_after_a_deleted_job() -> None:
    d = Driver(
        make_flow(
            job("a", retryPolicy={"limit": 1, "backoff": {"type": "Fixed", "duration": "10s"}})
        )
    )
    d.step()
    d.jobs.clear()
    gone = frozenset({"f-a-1"})
    assert d.step(now=at(5), vanished=gone).creates == []
    st = d.step_status("a")
    assert (st.phase, st.reason, st.next_retry_time) == ("Retrying", "JobDeleted", at(15))
    assert d.step(now=at(10), vanished=gone).creates == []  # the schedule stands
    assert d.step_status("a").next_retry_time == at(15)
    assert names(d.step(now=at(15), vanished=gone)) == ["f-a-2"]
    st = d.step_status("a")
    assert (st.phase, st.attempt, st.retry_count) == ("Running", 2, 1)


def test_a_deleted_retry_attempt_is_noticed_while_the_first_attempt_job_remains() -> None:
    d = Driver(make_flow(job("a", retryPolicy={"limit": 2})))
    d.step()
    d.set(record("a", "Failed"))
    assert names(d.step(now=at(1))) == ["f-a-2"]
    d.jobs["a"] = [j for j in d.jobs["a"] if j.attempt == 1]  # attempt 2's Job deleted
    assert names(d.step(now=at(2), vanished=frozenset({"f-a-2"}))) == ["f-a-3"]
    st = d.step_status("a")
    assert (st.attempt, st.retry_count) == (3, 2)
    assert d.created.count("f-a-2") == 1


def test_a_retrying_step_whose_failed_job_is_deleted_keeps_its_schedule() -> None:
    backoff = {"type": "Fixed", "duration": "30s"}
    d = Driver(make_flow(job("a", retryPolicy={"limit": 1, "backoff": backoff})))
    d.step()
    d.set(record("a", "Failed", finished=1))
    d.step(now=at(2))
    assert d.step_status("a").next_retry_time == at(31)
    d.jobs.clear()
    gone = frozenset({"f-a-1"})
    assert d.step(now=at(3), vanished=gone).creates == []
    assert d.step_status("a").phase == "Retrying"
    assert names(d.step(now=at(31), vanished=gone)) == ["f-a-2"]


def test_a_job_only_missing_from_the_cache_is_not_taken_for_deleted() -> None:
    """A lagging watch: the status counts on Jobs the cache does not show. They are looked up
    (``unseen_jobs``); until the API server confirms one gone nothing fails and nothing new is
    started (a re-issued create of the same name adopts the Job)."""
    d = Driver(make_flow(job("a"), job("m", matrix={"values": {"k": ["x", "y"]}})))
    d.step()
    d.jobs.clear()
    prev = d.status().steps or []
    assert unseen_jobs(prev, d.jobs) == ["f-a-1", "f-m-0-1", "f-m-1-1"]
    result = d.step(now=at(5))
    assert names(result) == ["f-a-1"]  # re-issued under its own name: AlreadyExists adopts it
    assert result.events == []
    assert d.step_status("a").phase == "Running"
    assert {s.phase for s in d.step_status("m").shards or []} == {"Running"}


def _matrix(**extra: Any) -> dict[str, Any]:
    return job("m", matrix={"values": {"k": ["x", "y"]}}, **extra)


def test_a_deleted_shard_job_is_a_failed_shard_attempt() -> None:
    d = Driver(make_flow(_matrix(retryPolicy={"limit": 1})))
    assert names(d.step()) == ["f-m-0-1", "f-m-1-1"]
    d.set(record("m", "Succeeded", shard=0))
    d.jobs["m"] = [j for j in d.jobs["m"] if j.shard == 0]  # shard 1's Job deleted
    result = d.step(now=at(5), vanished=frozenset({"f-m-1-1"}))
    assert names(result) == ["f-m-1-2"]
    assert [e.reason for e in result.events] == ["JobDeleted"]
    shards = {s.index: (s.phase, s.attempt, s.retry_count) for s in d.step_status("m").shards}
    assert shards == {0: ("Succeeded", 1, None), 1: ("Running", 2, 1)}


def test_a_deleted_shard_job_without_retries_fails_the_step_and_a_succeeded_one_stays() -> None:
    d = Driver(make_flow(_matrix()))
    d.step()
    d.set(record("m", "Succeeded", shard=0))
    d.step(now=at(1))
    d.jobs.clear()  # both Jobs gone: shard 0 had succeeded, shard 1 was running
    assert d.step(now=at(2), vanished=frozenset({"f-m-0-1", "f-m-1-1"})).creates == []
    st = d.step_status("m")
    assert (st.phase, st.reason) == ("Failed", "ShardFailed")
    shards = {s.index: s.phase for s in st.shards}
    assert shards == {0: "Succeeded", 1: "Failed"}
    assert st.message == "shard 1 failed: JobDeleted: Job f-m-1-1 was deleted while the shard ran"


def test_a_create_refused_by_a_quota_is_a_wait_that_backs_off() -> None:
    d = Driver(make_flow(job("a"), job("b", "a")))
    refused = d.step(create_waits={"f-a-1": QUOTA})
    assert refused.creates == []  # the re-plan after the refusal asks for nothing more
    st = d.step_status("a")
    assert (st.phase, st.reason, st.start_time, st.next_retry_time) == (
        "Pending",
        "QuotaExceeded",
        at(0),
        at(1),
    )
    assert st.message is not None
    assert st.message.startswith("Job f-a-1 not created yet: jobs")
    assert "exceeded quota: jobs" in st.message
    assert refused.requeue_after == 1.0
    assert d.status().phase == "Running"
    message = d.status().message
    assert message is not None
    assert "held: a: Job f-a-1 not created yet" in message
    ready = (d.status().conditions or [])[0]
    assert (ready.type, ready.status, ready.message) == ("Ready", "True", message)
    # Before the next try: held, nothing asked of the API server.
    assert d.step(now=at(0.5)).creates == []
    # Refused again at 1 s: waited 1 s, next try in max(1/2, 1) = 1 s.
    d.step(now=at(1), create_waits={"f-a-1": QUOTA})
    assert d.step_status("a").next_retry_time == at(2)
    d.step(now=at(40), create_waits={"f-a-1": QUOTA})
    assert d.step_status("a").next_retry_time == at(60)
    # The quota allows it now: created, its start time the first try.
    assert names(d.step(now=at(60))) == ["f-a-1"]
    st = d.step_status("a")
    assert (st.phase, st.start_time, st.reason) == ("Running", at(0), None)


def test_the_create_retry_delay_grows_with_the_wait_and_is_capped() -> None:
    assert [create_retry_delay(since=at(0), now=at(s)) for s in (0, 1, 4, 30, 600)] == [
        1.0,
        1.0,
        2.0,
        15.0,
        60.0,
    ]


def test_a_refused_retry_stays_retrying() -> None:
    d = Driver(make_flow(job("a", retryPolicy={"limit": 1})))
    d.step()
    d.set(record("a", "Failed"))
    d.step(now=at(1), create_waits={"f-a-2": ("Throttled", "429 Too Many Requests")})
    st = d.step_status("a")
    assert (st.phase, st.retry_count) == ("Retrying", None)
    assert st.message == "Job f-a-2 not created yet: 429 Too Many Requests; trying again in 1s"
    assert names(d.step(now=at(2))) == ["f-a-2"]


def test_a_refused_shard_waits_pending_and_is_created_later() -> None:
    d = Driver(make_flow(_matrix()))
    first = d.step(create_waits={"f-m-1-1": QUOTA})
    assert names(first) == ["f-m-0-1"]
    assert first.requeue_after == 1.0
    shards = {s.index: s.phase for s in d.step_status("m").shards}
    assert shards == {0: "Running", 1: "Pending"}
    assert names(d.step(now=at(1))) == ["f-m-1-1"]


def test_outputs_past_the_flow_cap_are_dropped_and_said_so() -> None:
    steps = [job(f"s{i}", outputs=[{"name": "v"}]) for i in range(3)]
    d = Driver(make_flow(*steps))
    d.step()
    d.set(*(record(f"s{i}", "Succeeded") for i in range(3)))
    value = "x" * (MAX_FLOW_OUTPUTS_BYTES // 2 - 20)
    d.step(outputs={f"s{i}": {"v": value} for i in range(3)})
    kept = [d.step_status(f"s{i}").outputs is not None for i in range(3)]
    assert kept == [True, True, False]
    assert d.step_status("s2").message == (
        f"outputs not read: outputs dropped: a flow's outputs are limited to "
        f"{MAX_FLOW_OUTPUTS_BYTES} bytes in all"
    )


@pytest.mark.parametrize(
    ("status", "message", "reason"),
    [
        pytest.param(403, QUOTA[1], "QuotaExceeded", id="exceeded-quota"),
        pytest.param(
            403,
            'jobs "f-a-1" is forbidden: status unknown for quota: jobs, resources: count/jobs',
            "QuotaExceeded",
            id="quota-not-counted-yet",
        ),
        pytest.param(429, "Too many requests, please try again later.", "Throttled", id="429"),
        pytest.param(500, "etcdserver: leader changed", "JobCreateFailed", id="500"),
        pytest.param(None, "API server unreachable: TimeoutError()", "JobCreateFailed", id="none"),
        pytest.param(403, 'User "zenflow" cannot create resource "jobs"', None, id="rbac"),
        pytest.param(422, "spec.template: Invalid value", None, id="invalid"),
    ],
)
def test_which_create_refusals_are_waits(
    status: int | None, message: str, reason: str | None
) -> None:
    refusal = create_refusal(status, message)
    assert (refusal[0] if refusal else None) == reason
