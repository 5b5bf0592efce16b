"""Hostile flows on the real control plane with only the CRDs installed (no webhook), issue 9.

Aspects: each flow the validator refuses — a ``when`` nested 250 parentheses deep, a 61 KB spec
whose Job would render to 2.1 MB, 70 matrix steps of 256 shards (17,920 Jobs), a flow whose
status would grow to ~1.4 MiB — ends Failed with reason Invalid, a Ready=False condition, a
FlowFailed Event and a message naming the field, creates no Job, is never retried, and an
ordinary flow created after it runs to Succeeded; a template nested 250 levels deep in an
unknown field is pruned by the CRD schema and its flow runs; a Job deleted while its step runs is a
failed attempt (JobDeleted, an Event, the retry policy's next attempt under a new name — before,
the step silently ran again under the same name with no retry counted); an output holding shell
code reaches examples/demo.yaml's report script as data, never as code; a Job create refused by
a ResourceQuota keeps the step Pending naming the quota (the flow Running, its Ready message
saying so) until the quota allows it, then the flow succeeds. Before: the deep
``when`` and template crashed the validator (RecursionError, PydanticSerializationError) and
the flows were retried for ever without a status; the oversized flows ran, froze behind a
refused status, or were refused by the API server Job by Job long after they were accepted.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.jobflows import Running, condition, jobflow, step, step_status
from tests.support.wait import eventually
from zenflow.api.constants import LABEL_STEP
from zenflow.kube.rest import Rest

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

pytestmark = pytest.mark.integration


def _deep_when() -> dict[str, Any]:
    return jobflow("deep-when", [step("a"), step("b", "a", when="(" * 250 + "true" + ")" * 250)])


def _inflated() -> dict[str, Any]:
    inflated = step("inflated")
    containers = inflated["template"]["spec"]["template"]["spec"]["containers"]
    containers[0]["command"] = ["echo", *["{{ params.big }}"] * 35]
    return jobflow(
        "inflated", [step("small"), inflated], params=[{"name": "big", "default": "x" * 60_000}]
    )


def _matrix_steps(count: int) -> list[dict[str, Any]]:
    values = {"a": [f"v{i}" for i in range(16)], "b": [f"w{i}" for i in range(16)]}
    return [step(f"m{i}", matrix={"values": values}) for i in range(count)]


def _oversized_matrix() -> dict[str, Any]:
    return jobflow("oversized-matrix", _matrix_steps(70))


def _large_status() -> dict[str, Any]:
    gates = [{"name": f"gate{i}", "type": "Manual"} for i in range(993)]
    return jobflow("large-status", [*gates, *_matrix_steps(7)])


@pytest.mark.parametrize(
    ("build", "field", "message"),
    [
        pytest.param(
            _deep_when,
            "spec.steps[1].when",
            "nests 250 levels of parentheses/brackets; at most 16 are allowed",
            id="when-250-parentheses",
        ),
        pytest.param(
            _inflated,
            "spec.steps[1]",
            "the Job this step renders can reach 2,1",
            id="job-rendered-to-2.1MB",
        ),
        pytest.param(
            _oversized_matrix,
            "spec.steps",
            "one run of the flow creates up to 17920 Jobs",
            id="70-matrix-steps-of-256-shards",
        ),
        pytest.param(
            _large_status,
            "spec.steps",
            "the flow's status can grow to 1",  # ~1.4 MiB (the estimate's details change)
            id="status-of-1.4MiB",
        ),
    ],
)
async def test_a_flow_the_validator_refuses_fails_invalid_and_harms_no_other(
    zf: Running, build: Any, field: str, message: str
) -> None:
    hostile = build()
    name = hostile["metadata"]["name"]
    await zf.create(hostile)
    await zf.create(jobflow(f"{name}-neighbour", [step("a"), step("b", "a")]))
    failed = await zf.wait_phase(name, ("Failed",))
    status = failed["status"]
    assert status["reason"] == "Invalid"
    assert f"{field}: {message}" in status["message"]
    ready = condition(failed, "Ready")
    assert ready is not None
    assert (ready["status"], ready["reason"]) == ("False", "Invalid")
    assert all(s["phase"] == "Skipped" for s in status["steps"])
    neighbour = await zf.wait_phase(f"{name}-neighbour")
    assert neighbour["status"]["phase"] == "Succeeded"
    await zf.reconciled(name)
    assert await zf.jobs(name) == []
    events = await zf.events(name)
    assert [e["reason"] for e in events if e["reason"] == "FlowFailed"] == ["FlowFailed"]


async def test_a_template_nested_250_levels_in_an_unknown_field_is_pruned_and_runs(
    zf: Running,
) -> None:
    deep: dict[str, Any] = {"leaf": "x"}
    for _ in range(250):
        deep = {"nested": deep}
    flow = jobflow("deep-template", [step("a")])
    flow["spec"]["steps"][0]["template"]["spec"]["template"]["spec"]["x-unknown"] = deep
    created = await zf.create(flow)
    assert "x-unknown" not in created["spec"]["steps"][0]["template"]["spec"]["template"]["spec"]
    done = await zf.wait_phase("deep-template")
    assert done["status"]["phase"] == "Succeeded"


@pytest.mark.parametrize("retries", [0, 1])
async def test_a_job_deleted_while_its_step_runs_is_a_failed_attempt(
    zf: Running, retries: int
) -> None:
    name = f"deleted-job-{retries}"
    await zf.create(
        jobflow(name, [step("a", seconds=60, retryPolicy={"limit": retries}), step("b", "a")])
    )
    first = f"{name}-a-1"

    async def running() -> bool:
        flow = await zf.get(name)
        return any(j["metadata"]["name"] == first for j in await zf.jobs(name)) and (
            step_status(flow, "a")["phase"] == "Running"
        )

    await eventually(running, what=f"Job {first} running")
    await zf.batch.delete_namespaced_job(first, zf.namespace, propagation_policy="Background")

    def deleted_event(events: list[dict[str, Any]]) -> bool:
        return any(e["reason"] == "JobDeleted" and first in e["message"] for e in events)

    if retries == 0:
        failed = await zf.wait_phase(name, ("Failed",))
        a = step_status(failed, "a")
        assert (a["phase"], a["reason"], a["attempt"]) == ("Failed", "JobDeleted", 1)
        assert a["message"] == f"Job {first} was deleted while the step ran (attempt 1)"
        assert step_status(failed, "b")["phase"] == "Skipped"
    else:
        second = f"{name}-a-2"

        async def retried() -> bool:
            flow = await zf.get(name)
            a = step_status(flow, "a")
            jobs = await _job_names(zf, name)
            return a.get("attempt") == 2 and a.get("retryCount") == 1 and second in jobs

        await eventually(retried, what=f"attempt 2 of step a as Job {second}")
    await eventually(lambda: _events_match(zf, name, deleted_event), what="a JobDeleted Event")
    await zf.reconciled(name)
    # Never re-created under the same name.
    assert first not in await _job_names(zf, name, live_only=True)


async def _job_names(zf: Running, flow: str, *, live_only: bool = False) -> list[str]:
    return [
        j["metadata"]["name"]
        for j in await zf.jobs(flow)
        if j["metadata"]["labels"].get(LABEL_STEP)
        and not (live_only and j["metadata"].get("deletionTimestamp"))
    ]


async def _events_match(zf: Running, flow: str, check: Any) -> bool:
    return bool(check(await zf.events(flow)))


async def test_an_output_holding_shell_code_stays_data_in_the_demo_report(
    zf: Running, tmp_path: Path
) -> None:
    """examples/demo.yaml's report step, fed the output ``42'; touch MARKER; echo '``: the
    script prints it; nothing runs it (the earlier example pasted the output into the script)."""
    marker = tmp_path / f"injected-{uuid.uuid4().hex}"
    demo = yaml.safe_load((EXAMPLES / "demo.yaml").read_text())
    report = next(s for s in demo["spec"]["steps"] if s["name"] == "report")
    malicious = f"42'; touch {marker}; echo '"
    produce = step(
        "fetch-products",
        outputs=[{"name": "count"}],
        message=json.dumps({"count": malicious}),
    )
    # The report step as the demo writes it, without its file input (the users artifact of
    # another step): the line that prints the output is the one under test.
    report = {
        k: v for k, v in report.items() if k not in ("dependencies", "workspaces", "artifacts")
    }
    report["dependencies"] = ["fetch-products"]
    script = report["run"]["script"]
    assert "$PRODUCT_COUNT" in script
    report["run"]["script"] = "\n".join(
        line.replace("; sleep 2", "")
        for line in script.splitlines()
        if "ZENFLOW_ARTIFACT" not in line
    )
    await zf.create(jobflow("injected-output", [produce, report]))
    done = await zf.wait_phase("injected-output")
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert step_status(done, "fetch-products")["outputs"] == {"count": malicious}
    assert not marker.exists()


async def test_a_job_create_refused_by_a_resource_quota_waits_until_the_quota_allows(
    zf: Running,
) -> None:
    quotas = f"/api/v1/namespaces/{zf.namespace}/resourcequotas"
    rest = Rest(zf.api)
    quota = {"metadata": {"name": "jobs"}, "spec": {"hard": {"count/jobs.batch": "0"}}}
    await rest.create(quotas, {"apiVersion": "v1", "kind": "ResourceQuota", **quota})
    await zf.create(jobflow("quota", [step("a"), step("b", "a")]))
    waiting = await zf.wait_for(
        "quota",
        lambda o: step_status(o, "a").get("reason") == "QuotaExceeded",
        what="step a waiting for the quota",
    )
    a = step_status(waiting, "a")
    assert a["phase"] == "Pending"
    assert "quota" in a["message"]
    assert a["message"].startswith("Job quota-a-1 not created yet: 403 Forbidden: ")
    assert waiting["status"]["phase"] == "Running"
    ready = condition(waiting, "Ready")
    assert ready is not None
    assert ready["status"] == "True"
    assert "held: a: Job quota-a-1 not created yet" in ready["message"]
    await zf.reconciled("quota")
    assert await zf.jobs("quota") == []
    assert (await zf.get("quota"))["status"]["phase"] == "Running"
    await rest.merge_patch(f"{quotas}/jobs", {"spec": {"hard": {"count/jobs.batch": "10"}}})
    done = await zf.wait_phase("quota", within=120)
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert step_status(done, "a")["startTime"] == a["startTime"]  # its first try
