"""A Manual step's state from its approval policy, the decisions recorded on the flow and the
clock: pure.

Rules, in order, for a Manual step that may run:
  1. a rejection (an entry with ``decision: reject``) fails it: reason Rejected, message naming
     who and why;
  2. ``required`` distinct approvers (default 1) release it: Succeeded, reason Approved,
     ``approvedBy`` naming them; a step without an approval policy is also released by the
     older ``workflow.zen.io/approve`` annotation (no identity: ``approvedBy`` is then the
     ``approved-by`` annotation, if any);
  3. ``timeoutSeconds`` after it started waiting, ``onTimeout`` acts: Fail (Failed), Skip
     (Skipped) or Approve (Succeeded), reason ApprovalTimeout;
  4. otherwise it waits (phase Waiting), its message counting the approvals so far.
Every decision is listed in ``approvals`` (user, time, decision, reason). Who may decide is the
admission webhook's to enforce (``zenflow.webhook.approvals``); ``approver_allowed`` is the
policy half of that check, shared with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from zenflow.api.approvals import ApprovalEntry
from zenflow.api.constants import ANNOTATION_APPROVE, ANNOTATION_APPROVED_BY
from zenflow.api.formats import clip
from zenflow.api.reasons import REASON_APPROVAL_TIMEOUT, REASON_APPROVED, REASON_REJECTED
from zenflow.api.status import ApprovalRecord, StepStatus
from zenflow.api.step import ApprovalPolicy, Approvers, Step

SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


@dataclass(frozen=True, slots=True)
class Gate:
    """The step's status, and in how many seconds to look again (its timeout), if at all."""

    status: StepStatus
    wake_in: float | None = None


def approver_allowed(
    policy: ApprovalPolicy | None, *, namespace: str, username: str, groups: Sequence[str]
) -> bool | None:
    """Whether the policy's ``approvers`` admit the user; None when it names no approvers
    (then the RBAC verb ``approve`` decides)."""
    approvers = policy.approvers if policy is not None else None
    if approvers is None:
        return None
    if username in approvers.users or set(groups) & set(approvers.groups):
        return True
    for account in approvers.service_accounts:
        ns, _, name = account.rpartition("/")
        if username == f"{SERVICE_ACCOUNT_PREFIX}{ns or namespace}:{name}":
            return True
    return False


def describe_approvers(approvers: Approvers) -> str:
    """``users alice, bob; groups ops`` (the lists that are set)."""
    parts = [
        f"{label} {', '.join(values)}"
        for label, values in (
            ("users", approvers.users),
            ("groups", approvers.groups),
            ("serviceAccounts", approvers.service_accounts),
        )
        if values
    ]
    return "; ".join(parts) or "nobody"


def gate_status(
    *,
    step: Step,
    prev: StepStatus | None,
    annotations: Mapping[str, str],
    entries: Sequence[ApprovalEntry],
    now: datetime,
) -> Gate:
    """The Manual step ``step`` once it may run (its dependencies allow it)."""
    start = prev.start_time if prev is not None and prev.start_time else now
    mine = [e for e in entries if e.step == step.name]
    records = _records(mine)
    policy = step.approval
    required = policy.required if policy is not None else 1
    base = StepStatus(name=step.name, phase="Waiting", start_time=start, approvals=records or None)
    rejection = next((e for e in mine if e.decision == "reject"), None)
    if rejection is not None:
        return Gate(
            _done(
                base,
                "Failed",
                REASON_REJECTED,
                f"rejected by {rejection.user}: {rejection.reason or 'no reason given'}",
                now,
            )
        )
    approvers = list(dict.fromkeys(e.user for e in mine if e.decision == "approve"))
    if len(approvers) >= required:
        released = _done(base, "Succeeded", REASON_APPROVED, None, now)
        released.approved_by = ", ".join(approvers[:required])
        return Gate(released)
    legacy = {a.strip() for a in str(annotations.get(ANNOTATION_APPROVE, "")).split(",")}
    if policy is None and step.name in legacy:
        released = _done(base, "Succeeded", REASON_APPROVED, None, now)
        released.approved_by = annotations.get(ANNOTATION_APPROVED_BY)
        return Gate(released)
    wake_in = None
    if policy is not None and policy.timeout_seconds is not None:
        deadline = start + timedelta(seconds=policy.timeout_seconds)
        if now >= deadline:
            return Gate(_timed_out(base, policy, len(approvers), now))
        wake_in = (deadline - now).total_seconds()
    waiting = step.message or "waiting for approval"
    if approvers or required > 1:
        waiting += f" ({len(approvers)}/{required} approvals"
        waiting += f": {', '.join(approvers)})" if approvers else ")"
    base.message = clip(waiting)
    return Gate(base, wake_in)


def _records(entries: Sequence[ApprovalEntry]) -> list[ApprovalRecord]:
    """One record per (user, decision), in order (a repeated approval counts once)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for e in entries:
        if (e.user, e.decision) in seen:
            continue
        seen.add((e.user, e.decision))
        out.append(
            ApprovalRecord(
                user=e.user,
                time=e.time,
                decision="Rejected" if e.decision == "reject" else "Approved",
                reason=clip(e.reason),
            )
        )
    return out


def _done(
    base: StepStatus, phase: str, reason: str, message: str | None, now: datetime
) -> StepStatus:
    return base.model_copy(
        update={"phase": phase, "reason": reason, "message": clip(message), "completion_time": now}
    )


def _timed_out(
    base: StepStatus, policy: ApprovalPolicy, approvals: int, now: datetime
) -> StepStatus:
    waited = f"no approval within {policy.timeout_seconds}s ({approvals}/{policy.required})"
    if policy.on_timeout == "Skip":
        return _done(base, "Skipped", REASON_APPROVAL_TIMEOUT, f"{waited}: skipped", now)
    if policy.on_timeout == "Approve":
        return _done(base, "Succeeded", REASON_APPROVAL_TIMEOUT, f"{waited}: approved", now)
    return _done(base, "Failed", REASON_APPROVAL_TIMEOUT, waited, now)
