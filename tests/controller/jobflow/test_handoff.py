"""The early hand-off on the real control plane (issue 11): a step follows the earliest signal
that already decides its Job (``core.joboutcome``) and never records an outcome its Job does not
end with. Every status the controller writes is recorded (a handler on its flow informer) and
compared with the Jobs' final conditions, on the edges:

- a chain of one-pod steps hands off on the pods' success (pod signals used), and each step's
  record agrees with its Job's Complete; the signals are dropped once the Jobs are final;
- a pod that succeeds while its Job is failed by ``activeDeadlineSeconds`` (the Job controller
  checks the deadline before counting the success): the step is Failed (DeadlineExceeded) and
  was never Succeeded;
- a pod that fails and is retried by the Job itself (``backoffLimit: 1``), and one that fails
  under a ``podFailurePolicy`` Ignore rule: the step never shows Failed and ends Succeeded
  with no retry of zenflow's own;
- an indexed Job of two completions whose index 0 succeeds while index 1 fails: never
  Succeeded, Failed as the Job;
- outputs: a termination-message output is read from the pod at the early hand-off; a JSONPath
  output over the Job waits for the Job's own Complete (``.status.succeeded`` is 1).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.support.jobflows import Running, jobflow, step, step_status
from tests.support.wait import eventually

pytestmark = pytest.mark.integration


class History:
    """Every (step, phase, reason) the controller's flow cache saw for one flow, in order."""

    def __init__(self, flow: str) -> None:
        self.flow = flow
        self.seen: list[tuple[str, str, str | None]] = []

    def __call__(self, obj: dict[str, Any]) -> None:
        if obj["metadata"]["name"] != self.flow:
            return
        for st in (obj.get("status") or {}).get("steps") or []:
            entry = (st["name"], st["phase"], st.get("reason"))
            if entry not in self.seen:
                self.seen.append(entry)

    def phases(self, step_name: str) -> list[str]:
        """The step's phases after Pending."""
        return [p for name, p, _ in self.seen if name == step_name and p != "Pending"]


@contextmanager
def history(zf: Running, flow: str) -> Iterator[History]:
    recorder = History(flow)
    zf.jobflow.informers.jobflows.add_event_handler(
        on_add=recorder, on_update=lambda _old, new: recorder(new)
    )
    yield recorder


async def final_jobs(zf: Running, flow: str, count: int) -> dict[str, dict[str, Any]]:
    """The flow's Jobs by step once ``count`` of them carry a final condition."""

    async def all_final() -> dict[str, dict[str, Any]] | None:
        jobs = await zf.jobs(flow)
        done = {
            j["metadata"]["labels"]["workflow.zen.io/step"]: j
            for j in jobs
            if final_condition(j) is not None
        }
        return done if len(done) >= count else None

    found: dict[str, dict[str, Any]] = await eventually(
        all_final, what=f"{count} final Jobs of {flow}", within=60
    )
    return found


def final_condition(job: dict[str, Any]) -> dict[str, Any] | None:
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond["type"] in ("Complete", "Failed") and cond["status"] == "True":
            return dict(cond)
    return None


async def pods_of(zf: Running, job: str) -> list[dict[str, Any]]:
    doc = await zf.get_json(
        f"/api/v1/namespaces/{zf.namespace}/pods", [("labelSelector", f"job-name={job}")]
    )
    return list(doc["items"])


def exec_step(name: str, script: str, *deps: str, **job_spec: Any) -> dict[str, Any]:
    """A step whose pod runs ``script`` (sh -c) as a local process on the node agent."""
    return {
        "name": name,
        **({"dependencies": list(deps)} if deps else {}),
        "template": {
            "spec": {
                **job_spec,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [
                            {"name": "main", "image": "busybox", "command": ["sh", "-c", script]}
                        ],
                    }
                },
            }
        },
    }


async def test_a_chain_hands_off_on_its_pods_and_agrees_with_the_jobs(zf: Running) -> None:
    signals = zf.jobflow.pod_signals
    before = signals.signals
    with history(zf, "early") as seen:
        await zf.create(jobflow("early", [step("a"), step("b", "a"), step("c", "b")]))
        done = await zf.wait_phase("early")
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert signals.signals > before  # hand-offs took the pods' success
    jobs = await final_jobs(zf, "early", 3)
    for name in ("a", "b", "c"):
        assert final_condition(jobs[name])["type"] == "Complete"  # type: ignore[index]
        assert seen.phases(name) == ["Running", "Succeeded"]

    # Nothing is kept for Jobs that are final.
    async def forgotten() -> bool:
        return all(signals.of(j) is None for j in jobs.values())

    await eventually(forgotten, what="pod signals dropped for final Jobs", within=10)


async def test_a_pod_that_succeeds_as_its_job_hits_the_deadline_is_never_a_success(
    zf: Running,
) -> None:
    # The pod ends after about 1.2 s, before the 2 s deadline; the Job controller counts pods
    # about a second after they change, and its deadline sync (at 2 s) checks the deadline
    # before successes: the Job fails with DeadlineExceeded although its pod succeeded.
    witnessed = 0
    for attempt in range(3):
        name = f"deadline-{attempt}"
        with history(zf, name) as seen:
            await zf.create(jobflow(name, [step("slow", seconds=1.2, timeoutSeconds=2)]))
            done = await zf.wait_phase(name)
        job = (await final_jobs(zf, name, 1))["slow"]
        cond = final_condition(job)
        assert cond is not None
        st = step_status(done, "slow")
        assert "Succeeded" not in seen.phases("slow")
        if cond["type"] == "Failed":
            assert (st["phase"], st["reason"]) == ("Failed", cond["reason"])
            pods = await pods_of(zf, job["metadata"]["name"])
            witnessed += any(p["status"]["phase"] == "Succeeded" for p in pods)
        else:
            assert st["phase"] == "Succeeded"
        if witnessed:
            break
    assert witnessed, "no run produced a succeeded pod in a Job failed by its deadline"


async def test_a_pod_retried_by_the_job_under_its_backoff_limit_is_no_failure(
    zf: Running, tmp_path: Any
) -> None:
    mark = tmp_path / f"first-{uuid.uuid4().hex}"
    script = f'mkdir "{mark}" 2>/dev/null && exit 1; exit 0'  # fails once, then succeeds
    with history(zf, "retried") as seen:
        await zf.create(jobflow("retried", [exec_step("flaky", script, backoffLimit=1)]))
        done = await zf.wait_phase("retried", within=90)
    st = step_status(done, "flaky")
    assert (st["phase"], st.get("retryCount")) == ("Succeeded", None), st
    assert seen.phases("flaky") == ["Running", "Succeeded"]
    job = (await final_jobs(zf, "retried", 1))["flaky"]
    assert final_condition(job)["type"] == "Complete"  # type: ignore[index]
    assert (job["status"].get("failed"), job["status"].get("succeeded")) == (1, 1)


async def test_a_pod_failure_the_pod_failure_policy_ignores_is_no_failure(
    zf: Running, tmp_path: Any
) -> None:
    mark = tmp_path / f"first-{uuid.uuid4().hex}"
    script = f'mkdir "{mark}" 2>/dev/null && exit 3; exit 0'
    ignore = {"rules": [{"action": "Ignore", "onExitCodes": {"operator": "In", "values": [3]}}]}
    with history(zf, "ignored") as seen:
        await zf.create(
            jobflow(
                "ignored",
                [exec_step("flaky", script)],
                executionPolicy={"podFailurePolicy": ignore},
            )
        )
        done = await zf.wait_phase("ignored", within=90)
    assert step_status(done, "flaky")["phase"] == "Succeeded"
    assert seen.phases("flaky") == ["Running", "Succeeded"]
    job = (await final_jobs(zf, "ignored", 1))["flaky"]
    assert final_condition(job)["type"] == "Complete"  # type: ignore[index]
    assert len(await pods_of(zf, job["metadata"]["name"])) == 2


async def test_an_indexed_job_with_one_pod_succeeded_and_one_failed_is_failed(
    zf: Running,
) -> None:
    script = 'test "$JOB_COMPLETION_INDEX" != 1'  # index 0 succeeds, index 1 fails
    with history(zf, "indexed") as seen:
        await zf.create(
            jobflow(
                "indexed",
                [exec_step("pair", script, completionMode="Indexed", completions=2, parallelism=2)],
            )
        )
        done = await zf.wait_phase("indexed", within=90)
    job = (await final_jobs(zf, "indexed", 1))["pair"]
    cond = final_condition(job)
    assert cond is not None
    assert cond["type"] == "Failed", job["status"]
    st = step_status(done, "pair")
    assert (st["phase"], st["reason"]) == ("Failed", cond["reason"])
    assert "Succeeded" not in seen.phases("pair")
    phases = sorted(p["status"]["phase"] for p in await pods_of(zf, job["metadata"]["name"]))
    assert phases == ["Failed", "Succeeded"]


async def test_outputs_from_the_pod_early_and_from_the_job_once_it_is_final(zf: Running) -> None:
    producer = step(
        "produce",
        message='{"count": 3}',
        outputs=[
            {"name": "count"},
            {"name": "succeeded", "valueFrom": {"jsonPath": "{.status.succeeded}"}},
        ],
    )
    consumer = step("use", "produce")
    container = consumer["template"]["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [
        {"name": "COUNT", "value": "{{ steps.produce.outputs.count }}"},
        {"name": "SUCCEEDED", "value": "{{ steps.produce.outputs.succeeded }}"},
    ]
    message_only = step("message", message='{"n": 1}', outputs=[{"name": "n"}])
    await zf.create(jobflow("outs", [producer, consumer, message_only]))
    done = await zf.wait_phase("outs")
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert step_status(done, "produce")["outputs"] == {"count": "3", "succeeded": "1"}
    assert step_status(done, "message")["outputs"] == {"n": "1"}
    jobs = {j["metadata"]["name"]: j for j in await zf.jobs("outs")}
    env = jobs["outs-use-1"]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "SUCCEEDED", "value": "1"} in env
    assert {"name": "COUNT", "value": "3"} in env
