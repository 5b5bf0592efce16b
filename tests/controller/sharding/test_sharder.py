"""The sharder's writes (zenflow.controller.sharding.sharder.Sharder), on a fake transport.

Aspects: assigning a flow that may have Jobs lists them once per namespace (a set-based
selector over the flows' labels) and relabels them *before* the flow; the flow's label patch
carries the resourceVersion the decision read and removes the drain label; a drain is one
resourceVersion-checked label patch; a failed Job list assigns none of the flows whose Jobs
could not be moved (the next pass retries); a new flow is labelled without any Job request;
every write names the sharder's field manager; an action is recorded as done only when applied.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry

from tests.support.fake_transport import FakeTransport, reply, status_reply
from zenflow.api.constants import LABEL_DRAIN, LABEL_SHARD
from zenflow.controller.settings import ControllerSettings
from zenflow.controller.sharding.metrics import shard_metrics
from zenflow.controller.sharding.sharder import Sharder
from zenflow.machinery.sharding import Action, Placement

FLOWS = "/apis/workflow.zen.io/v1alpha1/namespaces/ns/jobflows"
JOBS = "/apis/batch/v1/namespaces/ns/jobs"


def sharder(fake: FakeTransport) -> Sharder:
    return Sharder(
        ControllerSettings(leader_election_namespace="ns", sharding=True),
        fake,
        lease_api=fake,
        identity="me",
        field_manager="zenflow-controller/me",
        metrics=shard_metrics(CollectorRegistry()),
        registry=CollectorRegistry(),
    )


def job(name: str, flow: str, shard: str) -> dict[str, Any]:
    labels = {"workflow.zen.io/jobflow": flow, LABEL_SHARD: shard}
    return {"metadata": {"name": name, "labels": labels}}


def assign(name: str, *, move_jobs: bool, reason: Any = "dead") -> Action:
    p = Placement("JobFlow", f"ns/{name}", f"ns/flow/{name}", "gone", resource_version="4")
    return Action("assign", p, "b", reason, move_jobs=move_jobs)


async def test_jobs_are_relabelled_before_their_flow() -> None:
    fake = FakeTransport()
    fake.answer("GET", JOBS, reply({"items": [job("f-a-1", "f", "gone"), job("f-b-1", "f", "b")]}))
    fake.route("PATCH", ".*", lambda request, match: reply({}))
    done: dict[tuple[str, str], str] = {}
    assert await sharder(fake)._apply([assign("f", move_jobs=True)], done)
    (listed,) = fake.sent("GET", JOBS)
    assert ("labelSelector", "workflow.zen.io/jobflow in (f)") in list(listed.query)
    patches = [r for r in fake.requests if r.method == "PATCH"]
    assert [r.path for r in patches] == [f"{JOBS}/f-a-1", f"{FLOWS}/f"]  # f-b-1 already b's
    assert patches[0].body == {"metadata": {"labels": {LABEL_SHARD: "b"}}}
    assert patches[1].body == {
        "metadata": {"resourceVersion": "4", "labels": {LABEL_SHARD: "b", LABEL_DRAIN: None}}
    }
    assert all(("fieldManager", "zenflow-controller/me") in list(r.query) for r in patches)
    assert done == {("ns/f", "JobFlow"): "4"}


async def test_a_new_flow_is_labelled_without_job_requests() -> None:
    fake = FakeTransport()
    fake.route("PATCH", ".*", lambda request, match: reply({}))
    await sharder(fake)._apply([assign("n", move_jobs=False, reason="new")], {})
    assert [(r.method, r.path) for r in fake.requests] == [("PATCH", f"{FLOWS}/n")]


async def test_a_drain_is_one_checked_label_patch() -> None:
    fake = FakeTransport()
    fake.route("PATCH", ".*", lambda request, match: reply({}))
    p = Placement("JobFlow", "ns/d", "ns/flow/d", "a", resource_version="8")
    await sharder(fake)._apply([Action("drain", p, "b", "rebalance")], {})
    (patch,) = fake.requests
    assert patch.body == {"metadata": {"resourceVersion": "8", "labels": {LABEL_DRAIN: "true"}}}


async def test_no_flow_moves_without_its_jobs() -> None:
    fake = FakeTransport()
    fake.answer("GET", JOBS, status_reply(500, "InternalError", "etcd"))
    fake.route("PATCH", ".*", lambda request, match: reply({}))
    done: dict[tuple[str, str], str] = {}
    actions = [assign("m", move_jobs=True), assign("n", move_jobs=False, reason="new")]
    assert not await sharder(fake)._apply(actions, done)  # decided again soon
    assert [r.path for r in fake.sent("PATCH")] == [f"{FLOWS}/n"]
    assert done == {("ns/n", "JobFlow"): "4"}


async def test_a_conflict_is_left_for_the_next_pass() -> None:
    fake = FakeTransport()
    fake.answer("PATCH", f"{FLOWS}/n", status_reply(409, "Conflict", "modified"))
    done: dict[tuple[str, str], str] = {}
    assert not await sharder(fake)._apply([assign("n", move_jobs=False, reason="new")], done)
    assert done == {}
