"""A Manual step's state from its approval policy, the decisions and the clock (pure).

Aspects: a gate waits, counting approvals (and naming who) in its message; ``required`` distinct
approvers release it (a repeated approval counts once), ``approvedBy`` naming them and every
decision listed with its time; a rejection fails it naming who and why, even after approvals;
the older approve annotation releases only a step without a policy; the timeout acts per
onTimeout (Fail, Skip, Approve) from when the step started waiting, and until then the planner
is told when to look again; the approvers policy admits listed users, groups and
ServiceAccounts (short and namespaced names), and leaves steps without approvers to RBAC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from zenflow.api.approvals import ApprovalEntry
from zenflow.api.jobflow import Step
from zenflow.api.status import StepStatus
from zenflow.api.step import ApprovalPolicy
from zenflow.core.planning.approvals import approver_allowed, describe_approvers, gate_status

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)


def gate(**approval: Any) -> Step:
    body: dict[str, Any] = {"name": "gate", "type": "Manual", "message": "ship?"}
    if approval:
        body["approval"] = approval
    return Step.model_validate(body)


def entry(user: str, minute: int = 1, decision: str = "approve", reason: str | None = None,
          step: str = "gate") -> ApprovalEntry:  # fmt: skip
    return ApprovalEntry.model_validate(
        {"step": step, "user": user, "time": T0 + timedelta(minutes=minute),
         "decision": decision, "reason": reason}
    )  # fmt: skip


WAITING = StepStatus(name="gate", phase="Waiting", start_time=T0)


def test_waits_counting_approvals() -> None:
    status = gate_status(
        step=gate(required=2), prev=WAITING, annotations={}, entries=[entry("alice")], now=T0
    ).status
    assert (status.phase, status.message) == ("Waiting", "ship? (1/2 approvals: alice)")
    assert status.start_time == T0
    assert [(a.user, a.decision) for a in status.approvals or []] == [("alice", "Approved")]
    plain = gate_status(step=gate(), prev=None, annotations={}, entries=[], now=T0).status
    assert (plain.phase, plain.message, plain.approvals) == ("Waiting", "ship?", None)


def test_required_distinct_approvers_release() -> None:
    entries = [entry("alice"), entry("alice", 2), entry("other", step="x"), entry("bob", 3)]
    once = gate_status(
        step=gate(required=2), prev=WAITING, annotations={}, entries=entries[:3], now=T0
    ).status
    assert once.phase == "Waiting"
    done = gate_status(
        step=gate(required=2), prev=WAITING, annotations={}, entries=entries, now=T0
    ).status
    assert (done.phase, done.reason, done.approved_by) == ("Succeeded", "Approved", "alice, bob")
    assert done.completion_time == T0
    assert [(a.user, a.time) for a in done.approvals or []] == [
        ("alice", T0 + timedelta(minutes=1)),
        ("bob", T0 + timedelta(minutes=3)),
    ]


def test_a_rejection_fails_the_step() -> None:
    entries = [entry("alice"), entry("carol", 2, "reject", "not today")]
    status = gate_status(
        step=gate(required=2), prev=WAITING, annotations={}, entries=entries, now=T0
    ).status
    assert (status.phase, status.reason, status.message) == (
        "Failed", "Rejected", "rejected by carol: not today",
    )  # fmt: skip
    assert [(a.user, a.decision, a.reason) for a in status.approvals or []] == [
        ("alice", "Approved", None),
        ("carol", "Rejected", "not today"),
    ]


def test_the_older_annotation_releases_only_steps_without_policy() -> None:
    legacy = {"workflow.zen.io/approve": "other, gate", "workflow.zen.io/approved-by": "dave"}
    plain = gate_status(step=gate(), prev=WAITING, annotations=legacy, entries=[], now=T0).status
    assert (plain.phase, plain.approved_by) == ("Succeeded", "dave")
    governed = gate_status(
        step=gate(required=1), prev=WAITING, annotations=legacy, entries=[], now=T0
    ).status
    assert governed.phase == "Waiting"


@pytest.mark.parametrize(
    ("on_timeout", "phase", "message"),
    [
        pytest.param("Fail", "Failed", "no approval within 60s (1/2)", id="fail"),
        pytest.param("Skip", "Skipped", "no approval within 60s (1/2): skipped", id="skip"),
        pytest.param(
            "Approve", "Succeeded", "no approval within 60s (1/2): approved", id="approve"
        ),
    ],
)
def test_timeout_acts_per_on_timeout(on_timeout: str, phase: str, message: str) -> None:
    step = gate(required=2, timeoutSeconds=60, onTimeout=on_timeout)
    early = gate_status(
        step=step, prev=WAITING, annotations={}, entries=[entry("alice")],
        now=T0 + timedelta(seconds=45),
    )  # fmt: skip
    assert (early.status.phase, early.wake_in) == ("Waiting", 15.0)
    late = gate_status(
        step=step, prev=WAITING, annotations={}, entries=[entry("alice")],
        now=T0 + timedelta(seconds=60),
    )  # fmt: skip
    assert (late.status.phase, late.status.reason, late.status.message, late.wake_in) == (
        phase, "ApprovalTimeout", message, None,
    )  # fmt: skip


def test_first_look_starts_the_clock() -> None:
    first = gate_status(step=gate(timeoutSeconds=30), prev=None, annotations={}, entries=[], now=T0)
    assert (first.status.start_time, first.wake_in) == (T0, 30.0)


def test_approvers_policy() -> None:
    policy = ApprovalPolicy.model_validate(
        {"approvers": {"users": ["alice"], "groups": ["ops"],
                       "serviceAccounts": ["deployer", "ci/robot"]}}
    )  # fmt: skip

    def allowed(user: str, *groups: str) -> bool | None:
        return approver_allowed(policy, namespace="team", username=user, groups=groups)

    assert allowed("alice") is True
    assert allowed("bob", "ops") is True
    assert allowed("system:serviceaccount:team:deployer") is True
    assert allowed("system:serviceaccount:ci:robot") is True
    assert allowed("system:serviceaccount:other:deployer") is False
    assert allowed("bob", "devs") is False
    assert approver_allowed(None, namespace="t", username="x", groups=()) is None
    no_list = ApprovalPolicy(required=2)
    assert approver_allowed(no_list, namespace="t", username="x", groups=()) is None
    assert policy.approvers is not None
    assert describe_approvers(policy.approvers) == (
        "users alice; groups ops; serviceAccounts deployer, ci/robot"
    )
