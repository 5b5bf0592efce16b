"""``kubectl jobflow`` verbs against the real control plane with the controller running
in-process: what each verb writes is acted on by the controller.

- approve releases a Manual step, recording the approver (approvedBy, approvals), and the flow
  Succeeds;
- retry of a failed flow makes the controller create a new attempt of the failed step;
- retry --step re-runs that step (and its dependents) of a finished flow;
- suspend gives phase Suspended and starts nothing new, resume continues to Succeeded;
- cancel ends a running flow Failed with reason Cancelled.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from kubernetes_asyncio import client

from tests.support.jobflows import (
    Running,
    jobflow,
    running_controller,
    step,
    step_status,
)
from zenflow.cli import jobflow_plugin
from zenflow.envtest import ControlPlane

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture(loop_scope="session")
async def running(kube_config: client.Configuration, namespace: str) -> AsyncIterator[Running]:
    async with running_controller(kube_config, namespace) as ctl:
        yield ctl


async def plugin(plane: ControlPlane, running: Running, *argv: str) -> int:
    base = ["--kubeconfig", str(plane.kubeconfig_path), "-n", running.namespace, "--no-color"]
    return await jobflow_plugin.run_args(jobflow_plugin.build_parser().parse_args([*argv, *base]))


def phase(obj: dict[str, Any]) -> str:
    return str((obj.get("status") or {}).get("phase"))


async def test_approve_releases_a_manual_step(
    control_plane: ControlPlane, running: Running
) -> None:
    gate = {"name": "gate", "type": "Manual", "message": "ship it?"}
    await running.create(jobflow("gated", [gate, step("after", "gate")]))
    await running.wait_for(
        "gated",
        lambda o: step_status(o, "gate")["phase"] == "Waiting" if o.get("status") else False,
    )
    assert await plugin(control_plane, running, "approve", "gated", "gate") == 0
    done = await running.wait_phase("gated")
    assert phase(done) == "Succeeded"
    assert step_status(done, "gate")["phase"] == "Succeeded"
    # The identity issue 15 found missing: the approver is recorded, as the API server knows them.
    assert step_status(done, "gate")["approvedBy"] == "admin"
    assert [a["user"] for a in step_status(done, "gate")["approvals"]] == ["admin"]


async def test_retry_creates_new_attempts(control_plane: ControlPlane, running: Running) -> None:
    await running.create(jobflow("flaky", [step("ok"), step("bad", "ok", exit_code=1)]))
    failed = await running.wait_phase("flaky")
    assert phase(failed) == "Failed"
    assert step_status(failed, "bad").get("attempt") == 1

    assert await plugin(control_plane, running, "retry", "flaky") == 0

    def second_attempt_over(obj: dict[str, Any]) -> bool:
        st = step_status(obj, "bad") if obj.get("status") else {}
        return phase(obj) == "Failed" and st.get("attempt") == 2

    again = await running.wait_for("flaky", second_attempt_over, what="attempt 2 of bad")
    assert step_status(again, "ok").get("attempt") == 1  # the successful step was kept
    assert {
        j["metadata"]["labels"]["workflow.zen.io/attempt"] for j in await running.jobs("flaky")
    } >= {
        "1",
        "2",
    }

    assert await plugin(control_plane, running, "retry", "flaky", "--step", "ok") == 0

    def ok_rerun(obj: dict[str, Any]) -> bool:
        return phase(obj) == "Failed" and step_status(obj, "ok").get("attempt") == 2

    await running.wait_for("flaky", ok_rerun, what="step ok re-run")


async def test_suspend_resume_and_cancel(control_plane: ControlPlane, running: Running) -> None:
    await running.create(jobflow("paused", [step("first", seconds=4), step("second", "first")]))
    await running.wait_phase("paused", ("Running",))
    assert await plugin(control_plane, running, "suspend", "paused") == 0
    suspended = await running.wait_phase("paused", ("Suspended",))
    assert step_status(suspended, "second")["phase"] == "Pending"
    assert await plugin(control_plane, running, "resume", "paused") == 0
    assert phase(await running.wait_phase("paused")) == "Succeeded"

    await running.create(jobflow("doomed", [step("long", seconds=120)]))
    await running.wait_phase("doomed", ("Running",))
    assert await plugin(control_plane, running, "cancel", "doomed") == 0
    cancelled = await running.wait_phase("doomed")
    assert phase(cancelled) == "Failed"
    assert cancelled["status"]["reason"] == "Cancelled"
