"""The JobFlow reconciler as a unit: real informer caches filled by hand, the API server faked at
the transport (zenflow.kube.transport), the clock injected. The integration tests run the same
reconciler against the real control plane.

Aspects: one reconcile plans once, creates the first Job (owned by the flow) and writes the
status with the resourceVersion it was computed from, plus Events; Jobs it created but the
cache does not show yet are expected (not created again) until the cache shows them; the copy
its status patch returned is used until the cache catches up, then dropped; a Job conflict or
a resource conflict invalidates the plan (no status, no Events, requeue at once) and the next
reconcile plans it in (still once per reconcile); a settled flow only has its TTL applied,
without its spec being parsed; an invalid flow gets its status and Events once and a
TerminalError, and is validated again after an edit; outputs of a succeeded step are read from
its pod and feed its dependents; a flow gone from the cache is forgotten; a Job create refused
by a quota invalidates the plan and the next one keeps the step Pending naming the quota and
holds it until its next try; a status refused as too large stops the flow (Jobs deleted, a
compact Failed status, reason StatusTooLarge, Events), and when even that is refused the flow is
left with a terminal error rather than retried for ever; a Job the status counts on that the
cache does not show is read from the API server: found, it runs on; gone, the attempt failed
(JobDeleted).
"""

from __future__ import annotations

import json
import re
from copy import deepcopy
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

import zenflow.controller.jobflow.reconciler as reconciler_module
from tests.support.fake_transport import FakeTransport, reply, status_reply
from zenflow.api.constants import API_VERSION, GROUP, JOBFLOW_KIND, JOBFLOW_PLURAL, VERSION
from zenflow.controller.events import EventRecorder
from zenflow.controller.jobflow.client import FlowClient
from zenflow.controller.jobflow.metrics import FlowMetrics
from zenflow.controller.jobflow.observed import GROUP_INDEX, group_index
from zenflow.controller.jobflow.reconciler import JobFlowReconciler
from zenflow.core.planning.flowstatus import EventSpec
from zenflow.core.planning.plan import plan
from zenflow.kube.listwatch import KubeListerWatcher
from zenflow.kube.transport import Reply, Request
from zenflow.machinery.clock import FakeClock
from zenflow.machinery.informer import OWNER_INDEX, Informer, owner_indexer
from zenflow.machinery.reconcile import ObjectKey, Result, TerminalError, make_key

NS = "ns"
UID = "flow-uid"
JOBS = f"/apis/batch/v1/namespaces/{NS}/jobs"
FLOWS = f"/apis/{GROUP}/{VERSION}/namespaces/{NS}/{JOBFLOW_PLURAL}"
KEY: ObjectKey = make_key(NS, "f")


def _step(name: str, *deps: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "run": {"image": "busybox", "command": ["true"]}}
    if deps:
        body["dependencies"] = list(deps)
    return {**body, **extra}


def flow_obj(*steps: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": JOBFLOW_KIND,
        "metadata": {
            "name": "f",
            "namespace": NS,
            "uid": UID,
            "generation": 1,
            "resourceVersion": "1",
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": {"steps": list(steps), **spec},
    }


class Recorder(EventRecorder):
    """Keeps the Events the reconciler records (reasons, in order)."""

    def __init__(self) -> None:
        super().__init__(self)
        self.reasons: list[str] = []

    async def create_event(self, *, namespace: str, event: dict[str, Any]) -> None:
        raise AssertionError("not written in unit tests")

    async def patch_event(self, *, namespace: str, name: str, patch: dict[str, Any]) -> None:
        raise AssertionError("not written in unit tests")

    def record(self, *, flow: dict[str, Any], spec: EventSpec, kind: str = JOBFLOW_KIND) -> None:
        self.reasons.append(spec.reason)


class World:
    """The caches, a fake API server holding the flow and its Jobs, and the reconciler."""

    def __init__(self, flow: dict[str, Any]) -> None:
        self.clock = FakeClock()
        self.api = FakeTransport()
        self.flow = deepcopy(flow)
        self.jobs: dict[str, dict[str, Any]] = {}
        self.flows = Informer(
            KubeListerWatcher(self.api, group=GROUP, version=VERSION, plural=JOBFLOW_PLURAL)
        )
        self.flows.add_indexer(GROUP_INDEX, group_index)
        self.job_cache = Informer(
            KubeListerWatcher(self.api, group="batch", version="v1", plural="jobs")
        )
        self.job_cache.add_indexer(
            OWNER_INDEX, owner_indexer(JOBFLOW_KIND, api_version=API_VERSION)
        )
        self.recorder = Recorder()
        self.reconciler = JobFlowReconciler(
            flows=self.flows,
            jobs=self.job_cache,
            client=FlowClient(self.api),
            recorder=self.recorder,
            metrics=FlowMetrics(CollectorRegistry()),
            now=self.clock.wall,
            clock=self.clock,
        )
        self.flows.apply("ADDED", deepcopy(self.flow))
        self.api.route("POST", JOBS, self._create_job)
        self.api.route("GET", JOBS + "/(?P<name>[^/]+)", self._get_job)
        self.api.route("PATCH", FLOWS + "/f/status", self._patch_status)
        self.api.route("DELETE", FLOWS + "/f", lambda request, match: reply({}))

    def _create_job(self, request: Request, match: re.Match[str]) -> Reply:
        job = deepcopy(request.body)
        name = job["metadata"]["name"]
        if name in self.jobs:
            return status_reply(409, "AlreadyExists", f'jobs.batch "{name}" already exists')
        job["metadata"].update(uid=f"uid-{name}", resourceVersion="5")
        job["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
        self.jobs[name] = job
        return reply(job, 201)

    def _get_job(self, request: Request, match: re.Match[str]) -> Reply:
        job = self.jobs.get(match["name"])
        return reply(job) if job else status_reply(404, "NotFound", "not found")

    def _patch_status(self, request: Request, match: re.Match[str]) -> Reply:
        body = request.body
        if body["metadata"]["resourceVersion"] != self.flow["metadata"]["resourceVersion"]:
            return status_reply(409, "Conflict", "the object has been modified")
        status = {**(self.flow.get("status") or {}), **body["status"]}
        self.flow["status"] = {k: v for k, v in status.items() if v is not None}
        version = int(self.flow["metadata"]["resourceVersion"]) + 1
        self.flow["metadata"]["resourceVersion"] = str(version)
        return reply(deepcopy(self.flow))

    def cache_flow(self) -> None:
        """The flow watch delivers the server's current copy."""
        self.flows.apply("MODIFIED", deepcopy(self.flow))

    def cache_job(self, name: str, condition: str | None = None) -> None:
        job = deepcopy(self.jobs[name])
        if condition is not None:
            job["status"] = {
                "conditions": [{"type": condition, "status": "True"}],
                "completionTime": "2026-01-01T00:00:05Z",
            }
        self.job_cache.apply(
            "ADDED" if f"{NS}/{name}" not in self.job_cache.store else "MODIFIED", job
        )

    def created(self) -> list[str]:
        return [r.body["metadata"]["name"] for r in self.api.sent("POST", JOBS)]

    def status_patches(self) -> list[dict[str, Any]]:
        return [r.body for r in self.api.sent("PATCH", FLOWS + "/f/status")]

    def step(self, name: str) -> dict[str, Any]:
        return next(s for s in self.flow["status"]["steps"] if s["name"] == name)


@pytest.fixture
def plans(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts calls of ``plan`` by the reconciler."""
    calls: list[int] = []

    def counted(*args: Any) -> Any:
        calls.append(1)
        return plan(*args)

    monkeypatch.setattr(reconciler_module, "plan", counted)
    return calls


async def test_one_reconcile_plans_once_creates_and_writes_the_status(plans: list[int]) -> None:
    world = World(flow_obj(_step("a"), _step("b", "a")))
    assert await world.reconciler.reconcile(KEY) == Result()
    assert len(plans) == 1
    assert world.created() == ["f-a-1"]
    (job,) = world.jobs.values()
    assert job["metadata"]["ownerReferences"][0]["uid"] == UID
    (patch,) = world.status_patches()
    assert patch["metadata"] == {"resourceVersion": "1"}
    assert (patch["status"]["phase"], world.step("a")["phase"]) == ("Running", "Running")
    assert world.recorder.reasons == ["StepStarted"]
    assert world.reconciler.status_writes == 1


async def test_created_jobs_are_expected_until_the_cache_shows_them() -> None:
    world = World(flow_obj(_step("a")))
    await world.reconciler.reconcile(KEY)
    world.clock.advance(30.0)
    await world.reconciler.reconcile(KEY)  # the Job cache has not shown f-a-1 yet
    assert world.created() == ["f-a-1"]
    assert len(world.status_patches()) == 1  # nothing changed
    expected = world.reconciler._memory.expected
    assert list(expected.pending(UID, cached=lambda name: False)) == ["f-a-1"]
    world.cache_job("f-a-1")
    await world.reconciler.reconcile(KEY)
    assert (world.created(), len(world.status_patches())) == (["f-a-1"], 1)
    assert expected.pending(UID, cached=lambda name: False) == {}


async def test_the_written_copy_is_used_until_the_cache_catches_up() -> None:
    world = World(flow_obj(_step("a"), _step("b", "a")))
    await world.reconciler.reconcile(KEY)
    assert UID in world.reconciler._written
    world.cache_job("f-a-1", "Complete")
    await world.reconciler.reconcile(KEY)  # the flow cache still holds resourceVersion 1
    assert [p["metadata"]["resourceVersion"] for p in world.status_patches()] == ["1", "2"]
    world.cache_flow()
    assert UID not in world.reconciler._written


async def test_a_job_conflict_feeds_the_next_reconcile(plans: list[int]) -> None:
    world = World(flow_obj(_step("a"), _step("b", "a")))
    foreign = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "f-a-1"}}
    world.jobs["f-a-1"] = foreign
    assert await world.reconciler.reconcile(KEY) == Result(requeue_after=0)
    assert (world.status_patches(), world.recorder.reasons, len(plans)) == ([], [], 1)
    await world.reconciler.reconcile(KEY)
    assert len(plans) == 2
    assert (world.step("a")["phase"], world.step("a")["reason"]) == ("Failed", "JobConflict")
    assert world.flow["status"]["phase"] == "Failed"
    assert world.created() == ["f-a-1"]
    assert "FlowFailed" in world.recorder.reasons
    assert world.reconciler._memory.create_conflicts(UID) == {}


async def test_a_resource_conflict_feeds_the_next_reconcile(plans: list[int]) -> None:
    templates = {"configMapTemplates": [{"metadata": {"name": "cfg"}, "data": {"k": "v"}}]}
    world = World(flow_obj(_step("a"), resourceTemplates=templates))
    cms = f"/api/v1/namespaces/{NS}/configmaps"
    world.api.answer("POST", cms, status_reply(409, "AlreadyExists", "exists"))
    world.api.answer("GET", cms + "/cfg", reply({"metadata": {"name": "cfg"}}))
    assert await world.reconciler.reconcile(KEY) == Result(requeue_after=0)
    assert (world.created(), world.status_patches()) == ([], [])
    await world.reconciler.reconcile(KEY)
    status = world.flow["status"]
    assert (status["phase"], status["reason"]) == ("Failed", "ResourceConflict")
    assert "ConfigMap cfg already exists" in status["message"]
    assert (len(world.api.sent("POST", cms)), world.created(), len(plans)) == (1, [], 2)


def _finished(ttl: int, *, completed: str = "2025-12-31T23:59:00Z") -> dict[str, Any]:
    obj = flow_obj(_step("a"))
    obj["spec"] = {"steps": "not a list", "executionPolicy": {"ttlSecondsAfterFinished": ttl}}
    obj["status"] = {"phase": "Succeeded", "completionTime": completed, "observedGeneration": 1}
    return obj


async def test_a_settled_flow_only_has_its_ttl_applied(plans: list[int]) -> None:
    waiting = World(_finished(3600))
    result = await waiting.reconciler.reconcile(KEY)
    assert result.requeue_after == pytest.approx(3540.0)
    assert waiting.api.requests == []
    expired = World(_finished(10))
    assert await expired.reconciler.reconcile(KEY) == Result()
    (delete,) = expired.api.requests
    assert (delete.method, delete.body["preconditions"]) == ("DELETE", {"uid": UID})
    assert plans == []  # the invalid spec was never parsed


async def test_an_invalid_flow_is_recorded_once() -> None:
    world = World(flow_obj(_step("a", "nope")))
    with pytest.raises(TerminalError, match="invalid JobFlow"):
        await world.reconciler.reconcile_safely(KEY)
    assert (world.flow["status"]["phase"], world.flow["status"]["reason"]) == ("Failed", "Invalid")
    assert world.recorder.reasons == ["FlowFailed"]
    world.cache_flow()  # settled: Invalid for this generation, nothing to do but its TTL
    assert await world.reconciler.reconcile_safely(KEY) == Result()
    assert (len(world.status_patches()), world.recorder.reasons) == (1, ["FlowFailed"])
    world.flow["metadata"]["generation"] = 2  # an edit: validated again
    world.cache_flow()
    with pytest.raises(TerminalError):
        await world.reconciler.reconcile_safely(KEY)
    assert world.flow["status"]["observedGeneration"] == 2


async def test_outputs_are_read_from_the_pod_and_feed_dependents() -> None:
    producer = _step("a", outputs=[{"name": "x"}])
    consumer = _step("b", "a", inputs=[{"name": "X", "value": "{{ steps.a.outputs.x }}"}])
    world = World(flow_obj(producer, consumer))
    owner = {"kind": "Job", "name": "f-a-1", "uid": "uid-f-a-1", "controller": True}
    pod = {
        "metadata": {"ownerReferences": [owner]},
        "status": {
            "phase": "Succeeded",
            "containerStatuses": [{"state": {"terminated": {"message": json.dumps({"x": "42"})}}}],
        },
    }
    world.api.answer("GET", f"/api/v1/namespaces/{NS}/pods", reply({"items": [pod]}))
    await world.reconciler.reconcile(KEY)
    world.cache_job("f-a-1", "Complete")
    world.cache_flow()
    await world.reconciler.reconcile(KEY)
    (read,) = world.api.sent("GET", f"/api/v1/namespaces/{NS}/pods")
    assert list(read.query) == [("labelSelector", "batch.kubernetes.io/controller-uid=uid-f-a-1")]
    assert world.step("a")["outputs"] == {"x": "42"}
    env = world.jobs["f-b-1"]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "X", "value": "42"} in env


async def test_a_flow_gone_from_the_cache_is_forgotten() -> None:
    world = World(flow_obj(_step("a")))
    await world.reconciler.reconcile(KEY)
    world.flows.apply("DELETED", deepcopy(world.flow))
    assert await world.reconciler.reconcile(KEY) == Result()
    assert UID not in world.reconciler._written
    assert world.reconciler._memory.expected.pending(UID, cached=lambda name: False) == {}


QUOTA = 'jobs "f-a-1" is forbidden: exceeded quota: jobs, requested: count/jobs.batch=1'


async def test_a_create_refused_by_a_quota_waits_pending_and_is_tried_again() -> None:
    world = World(flow_obj(_step("a")))
    world.api.answer("POST", JOBS, status_reply(403, "Forbidden", QUOTA))
    # The refusal invalidates the plan: nothing written, replanned at once.
    assert await world.reconciler.reconcile_safely(KEY) == Result(requeue_after=0)
    assert world.status_patches() == []
    assert await world.reconciler.reconcile_safely(KEY) == Result(requeue_after=1.0)
    a = world.step("a")
    assert (a["phase"], a["reason"]) == ("Pending", "QuotaExceeded")
    assert f"403 Forbidden: {QUOTA}" in a["message"]
    assert world.flow["status"]["phase"] == "Running"
    assert "exceeded quota" in world.flow["status"]["message"]
    assert len(world.created()) == 1  # held until its next try
    world.cache_flow()
    assert await world.reconciler.reconcile_safely(KEY) == Result(requeue_after=1.0)
    assert len(world.created()) == 1
    world.api.route("POST", JOBS, world._create_job)
    world.clock.advance(1.0)
    world.cache_flow()
    await world.reconciler.reconcile_safely(KEY)
    assert world.created() == ["f-a-1", "f-a-1"]
    assert world.step("a")["phase"] == "Running"


async def test_a_status_refused_as_too_large_stops_the_flow_compactly() -> None:
    world = World(flow_obj(_step("a"), _step("b"), _step("c", "a")))
    refused = status_reply(500, "InternalError", "etcdserver: request is too large")
    compact: list[dict[str, Any]] = []

    def patch(request: Request, match: re.Match[str]) -> Reply:
        if not compact:
            compact.append(request.body)
            return refused
        return world._patch_status(request, match)

    world.api.route("PATCH", FLOWS + "/f/status", patch)
    world.api.route("DELETE", JOBS + "/(?P<name>[^/]+)", lambda request, match: reply({}))
    assert await world.reconciler.reconcile_safely(KEY) == Result()
    status = world.flow["status"]
    assert (status["phase"], status["reason"]) == ("Failed", "StatusTooLarge")
    assert "etcdserver: request is too large" in status["message"]
    assert {s["name"]: s["phase"] for s in status["steps"]} == {
        "a": "Failed",
        "b": "Failed",
        "c": "Skipped",
    }
    deleted = sorted(r.path.rsplit("/", 1)[1] for r in world.api.sent("DELETE", JOBS + "/.*"))
    assert deleted == ["f-a-1", "f-b-1"]
    assert world.recorder.reasons[0] == "StatusTooLarge"
    assert "FlowFailed" in world.recorder.reasons


async def test_when_even_the_compact_status_is_refused_the_flow_is_left_terminally() -> None:
    world = World(flow_obj(_step("a")))
    refused = status_reply(500, "InternalError", "etcdserver: request is too large")
    world.api.answer("PATCH", FLOWS + "/f/status", refused)
    world.api.route("DELETE", JOBS + "/(?P<name>[^/]+)", lambda request, match: reply({}))
    with pytest.raises(TerminalError, match="request is too large"):
        await world.reconciler.reconcile_safely(KEY)
    assert world.recorder.reasons == ["StatusTooLarge", "StatusTooLarge"]
    assert len(world.status_patches()) == 2


async def test_a_job_the_cache_does_not_show_is_looked_up_before_it_counts_as_deleted() -> None:
    world = World(flow_obj(_step("a")))
    await world.reconciler.reconcile_safely(KEY)
    world.cache_flow()
    world.clock.advance(120.0)  # the expectation of f-a-1 is gone, the cache never showed it
    await world.reconciler.reconcile_safely(KEY)
    assert world.created() == ["f-a-1"]  # found on the API server: it runs, nothing else
    assert [r.path for r in world.api.sent("GET", JOBS + "/f-a-1")] == [JOBS + "/f-a-1"]
    assert world.step("a")["phase"] == "Running"
    del world.jobs["f-a-1"]  # kubectl delete job f-a-1, and the watch missed it too
    world.clock.advance(120.0)
    await world.reconciler.reconcile_safely(KEY)
    a = world.step("a")
    assert (a["phase"], a["reason"]) == ("Failed", "JobDeleted")
    assert "JobDeleted" in world.recorder.reasons
    assert world.created() == ["f-a-1"]
