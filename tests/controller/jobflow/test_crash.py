"""Crash safety of the JobFlow controller on the real control plane.

30 flows of three shapes are in flight while the ``zenflow controller`` process (a subprocess,
leader election off so a restart takes over at once) is SIGKILLed five times and restarted, each
time once the Jobs created so far reach the next of five points spread over the run: every kill
hits flows in flight, and each restarted process has done work before the next kill.

Aspects: every flow ends in the phase its shape dictates, and every (flow, step, attempt) had
exactly one Job: a separate informer in the test records the uid of every Job ever created, so a
Job created twice under one name (delete + create) would show two uids, and the set of Job names
per flow must be exactly the expected attempts. A Job created just before a crash (status not
yet written) is adopted, not duplicated. With leader election on, a standby takes over from a
SIGKILLed leader mid-flight, with the same guarantees. The Job record is complete when checked:
the test's informer has delivered a marker Job created after every flow finished.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client

from tests.controller.jobflow.job_tracker import JobTracker
from tests.support.controller_process import ControllerProcess, controller_args
from tests.support.jobflows import Running, jobflow, running_controller, step
from tests.support.wait import eventually
from zenflow.api.jobflow import JobFlow
from zenflow.core.planning.jobspec import build_job, template_context
from zenflow.envtest.controlplane import ControlPlane
from zenflow.kube.client import new_api_client

pytestmark = pytest.mark.integration

FLOWS_PER_SHAPE = 10
KILLS = 5


def _chain(name: str) -> tuple[dict[str, Any], str, set[str]]:
    flow = jobflow(name, [step("a", seconds=0.4), step("b", "a", seconds=0.4), step("c", "b")])
    return flow, "Succeeded", {f"{name}-a-1", f"{name}-b-1", f"{name}-c-1"}


def _failing(name: str) -> tuple[dict[str, Any], str, set[str]]:
    flow = jobflow(
        name,
        [
            step("root", seconds=0.3),
            step("bad", "root", exit_code=1, seconds=0.3, retryPolicy={"limit": 1}),
            step("sib", "root", seconds=1.0),
            step("child", "bad"),
        ],
    )
    jobs = {f"{name}-root-1", f"{name}-bad-1", f"{name}-bad-2", f"{name}-sib-1"}
    return flow, "Failed", jobs


def _fan(name: str) -> tuple[dict[str, Any], str, set[str]]:
    flow = jobflow(
        name,
        [
            step("p0", seconds=0.5),
            step("p1", seconds=0.8),
            step("p2", exit_code=2, continueOnFailure=True),
            step("join", "p0", "p1", "p2"),
        ],
    )
    return flow, "Succeeded", {f"{name}-{s}-1" for s in ("p0", "p1", "p2", "join")}


@pytest.fixture
def controller_process(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> Iterator[ControllerProcess]:
    args = controller_args(
        kubeconfig=control_plane.kubeconfig_path,
        namespace=namespace,
        lease=None,
        log_level="warning",
    )
    proc = ControllerProcess("ctl", args, log_path=tmp_path / "ctl.log")
    try:
        yield proc
    finally:
        proc.close()


async def test_sigkilled_controller_loses_and_duplicates_nothing(
    kube_config: client.Configuration,
    namespace: str,
    controller_process: ControllerProcess,
) -> None:
    api = new_api_client(kube_config)
    tracker = JobTracker(api, namespace)
    zf = Running(manager=None, jobflow=None, api=api, namespace=namespace)  # type: ignore[arg-type]
    try:
        async with tracker.running():
            expected: dict[str, tuple[str, set[str]]] = {}
            shapes = (_chain, _failing, _fan)
            for i in range(FLOWS_PER_SHAPE):
                for shape in shapes:
                    name = f"{shape.__name__.strip('_')}-{i}"
                    flow, phase, jobs = shape(name)
                    expected[name] = (phase, jobs)
                    await zf.create(flow)
            total = sum(len(jobs) for _, jobs in expected.values())
            in_flight_at_kill = []
            controller_process.start()
            for k in range(1, KILLS + 1):
                await tracker.seen(k * total // (KILLS + 2), within=120)
                controller_process.kill()
                in_flight_at_kill.append(len(tracker.created))
                controller_process.start()
            # The kills hit flows in flight (some Jobs created, not all).
            assert all(0 < n < total for n in in_flight_at_kill), (in_flight_at_kill, total)
            for name, (phase, _) in expected.items():
                done = await zf.wait_phase(name, within=120)
                assert done["status"]["phase"] == phase, (name, done["status"])
            await tracker.caught_up()
            created = tracker.created
            for name, (_, jobs) in expected.items():
                names = {n for n in created if n.startswith(f"{name}-")}
                assert names == jobs, (name, sorted(names))
            duplicated = {n: uids for n, uids in created.items() if len(uids) != 1}
            assert not duplicated, duplicated
            assert controller_process.starts == KILLS + 1
    finally:
        await api.close()


async def test_a_job_created_before_a_crash_is_adopted(
    kube_config: client.Configuration, namespace: str
) -> None:
    """The controller died after creating a step's Job and before writing the status: the
    restarted controller finds the Job under the deterministic name and adopts it."""
    api = new_api_client(kube_config)
    try:
        zf = Running(manager=None, jobflow=None, api=api, namespace=namespace)  # type: ignore[arg-type]
        flow = await zf.create(jobflow("adopt", [step("a", seconds=0.5), step("b", "a")]))
        meta = flow["metadata"]
        manifest: Any = jobspec_for(flow)
        job = await zf.batch.create_namespaced_job(namespace, manifest)
        async with running_controller(kube_config, namespace) as running:
            done = await running.wait_phase("adopt")
        assert done["status"]["phase"] == "Succeeded"
        jobs = {j["metadata"]["name"]: j for j in await zf.jobs("adopt")}
        assert sorted(jobs) == ["adopt-a-1", "adopt-b-1"]
        assert jobs["adopt-a-1"]["metadata"]["uid"] == job.metadata.uid
        assert meta["uid"] == jobs["adopt-b-1"]["metadata"]["ownerReferences"][0]["uid"]
    finally:
        await api.close()


def jobspec_for(flow: dict[str, Any]) -> dict[str, Any]:
    """The Job the controller would have created for attempt 1 of the flow's first step."""
    parsed = JobFlow.model_validate(flow)
    first = parsed.spec.steps[0]
    context = template_context(flow=parsed, step=first, attempt=1, outputs={}, phases={})
    return build_job(flow=parsed, step=first, attempt=1, retry_count=0, context=context)


async def test_a_standby_takes_over_from_a_killed_leader_mid_flight(
    control_plane: ControlPlane, kube_config: client.Configuration, namespace: str, tmp_path: Path
) -> None:
    """Leader election on (short lease): the leader is SIGKILLed with flows in flight (once a
    third, then two thirds of their Jobs exist), the standby (warm caches) takes over, then the
    same again the other way round. Every flow finishes and every (step, attempt) had exactly
    one Job."""
    args = controller_args(
        kubeconfig=control_plane.kubeconfig_path,
        namespace=namespace,
        lease="zenflow-controller",
        log_level="warning",
    )
    procs = [ControllerProcess(f"ha-{i}", args, log_path=tmp_path / f"ctl-{i}.log") for i in (0, 1)]
    api = new_api_client(kube_config)
    tracker = JobTracker(api, namespace)
    coordination = client.CoordinationV1Api(api)
    zf = Running(manager=None, jobflow=None, api=api, namespace=namespace)  # type: ignore[arg-type]

    async def holder() -> str | None:
        try:
            lease = await coordination.read_namespaced_lease("zenflow-controller", namespace)
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return lease.spec.holder_identity or None

    async def led_by_someone_else(than: str | None) -> bool:
        now = await holder()
        return now is not None and now != than

    try:
        async with tracker.running():
            procs[0].start()
            await eventually(lambda: led_by_someone_else(None), within=30, what="first leader")
            procs[1].start()
            expected: dict[str, set[str]] = {}
            for i in range(12):
                name = f"ha-{i}"
                flow, _, jobs = _chain(name)
                expected[name] = jobs
                await zf.create(flow)
            total = sum(len(jobs) for jobs in expected.values())
            for victim in (0, 1):
                await tracker.seen((victim + 1) * total // 3, within=120)
                leader = await holder()
                procs[victim].kill()
                assert len(tracker.created) < total, "the kill came after every Job existed"
                await eventually(functools.partial(led_by_someone_else, leader), what="takeover")
                procs[victim].start()  # back as the new standby
            for name in expected:
                done = await zf.wait_phase(name, within=120)
                assert done["status"]["phase"] == "Succeeded", (name, done["status"])
            await tracker.caught_up()
            for name, jobs in expected.items():
                assert {n for n in tracker.created if n.startswith(f"{name}-")} == jobs
            assert all(len(uids) == 1 for uids in tracker.created.values()), tracker.created
    finally:
        for proc in procs:
            proc.close()
        await api.close()
