"""An approval gate's timeout on the real control plane, with the controller running: nobody
approves, and ``timeoutSeconds`` (5 s) after the gate started waiting ``onTimeout`` acts.

Aspects: Fail fails the gate (reason ApprovalTimeout, message saying how long and how many
approvals it had) and the flow; Skip skips the gate and so its dependent, and the flow succeeds;
Approve releases the gate and its dependent runs; the controller is woken at the deadline (the
flow changes without any other event)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.jobflows import Running, jobflow, step, step_status

TIMEOUT_S = 5
"""Long enough for the test's polling to see the gate Waiting before the timeout acts (at 1 s
the window was missed once on a busy machine)."""


def gated(name: str, on_timeout: str) -> dict[str, Any]:
    gate = {
        "name": "gate",
        "type": "Manual",
        "approval": {"required": 2, "timeoutSeconds": TIMEOUT_S, "onTimeout": on_timeout},
    }
    return jobflow(name, [gate, step("after", "gate")])


@pytest.mark.parametrize(
    ("on_timeout", "gate_phase", "after_phase", "flow_phase"),
    [
        pytest.param("Fail", "Failed", "Skipped", "Failed", id="fail"),
        pytest.param("Skip", "Skipped", "Skipped", "Succeeded", id="skip"),
        pytest.param("Approve", "Succeeded", "Succeeded", "Succeeded", id="approve"),
    ],
)
async def test_timeout_acts_per_on_timeout(
    zf: Running, on_timeout: str, gate_phase: str, after_phase: str, flow_phase: str
) -> None:
    name = f"timeout-{on_timeout.lower()}"
    await zf.create(gated(name, on_timeout))
    waiting = await zf.wait_for(
        name,
        lambda o: bool(o.get("status")) and step_status(o, "gate")["phase"] == "Waiting",
        what="gate Waiting",
    )
    assert step_status(waiting, "gate")["message"] == "waiting for approval (0/2 approvals)"
    done = await zf.wait_phase(name, within=30)
    gate = step_status(done, "gate")
    assert (gate["phase"], gate["reason"]) == (gate_phase, "ApprovalTimeout")
    assert gate["message"].startswith(f"no approval within {TIMEOUT_S}s (0/2)")
    assert step_status(done, "after")["phase"] == after_phase
    assert done["status"]["phase"] == flow_phase
