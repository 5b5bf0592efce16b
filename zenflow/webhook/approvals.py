"""Who may approve or reject a Manual step, judged at admission: pure rules over (old, new,
requester).

The approvals annotation (``zenflow.api.approvals``) only grows; each entry an update adds must:
  - be about a Manual step of the flow that is not finished yet;
  - name the requesting user (``userInfo.username``): nobody approves in another's name;
  - not repeat an approval the same user already gave for that step (approvers are distinct:
    ``approval.required`` counts people, not requests);
  - carry a reason when it rejects;
  - come from an approver the step's ``approval.approvers`` lists (user, group or
    ServiceAccount) — or, when the step lists none, from someone holding the RBAC verb
    ``approve`` on the JobFlow, which the server checks with a SubjectAccessReview as the
    requester (``requirements``; see ``zenflow.webhook.authorize``).
The older comma-separated ``workflow.zen.io/approve`` annotation may still release steps that
have no approval policy (with the same RBAC check), never a step that has one.

Every refusal names the field and the rule. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from pydantic import ValidationError

from zenflow.api.approvals import ApprovalEntry, ApprovalsError, parse_entries
from zenflow.api.constants import ANNOTATION_APPROVALS, ANNOTATION_APPROVE, GROUP, JOBFLOW_PLURAL
from zenflow.api.step import ApprovalPolicy
from zenflow.core.planning.approvals import approver_allowed, describe_approvers
from zenflow.webhook.access import Permission, Requirement

FIELD: Final = f"metadata.annotations[{ANNOTATION_APPROVALS}]"
LEGACY_FIELD: Final = f"metadata.annotations[{ANNOTATION_APPROVE}]"
FINISHED: Final = frozenset({"Succeeded", "Failed", "Skipped"})
RBAC_HINT: Final = (
    "a Manual step without approval.approvers may be approved by whoever holds the RBAC verb "
    "approve on the JobFlow"
)


@dataclass(frozen=True)
class ApprovalReview:
    """Field-named problems (deny if any), SubjectAccessReviews still to make, audit lines."""

    problems: tuple[str, ...] = ()
    requirements: tuple[Requirement, ...] = ()
    audits: tuple[str, ...] = ()


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _annotation(obj: Mapping[str, Any], key: str) -> str | None:
    value = _mapping(_mapping(obj.get("metadata")).get("annotations")).get(key)
    return value if isinstance(value, str) else None


def _manual_steps(obj: Mapping[str, Any]) -> dict[str, ApprovalPolicy | None]:
    """Manual step name → its policy (None without one, or when it does not parse: the
    validator reports that)."""
    spec = _mapping(obj.get("spec"))
    out: dict[str, ApprovalPolicy | None] = {}
    for group in ("steps", "finally"):
        for step in spec.get(group) or []:
            step = _mapping(step)
            if step.get("type") != "Manual" or not isinstance(step.get("name"), str):
                continue
            try:
                policy = (
                    ApprovalPolicy.model_validate(step["approval"])
                    if step.get("approval")
                    else None
                )
            except ValidationError:
                policy = None
            out[step["name"]] = policy
    return out


def _phases(obj: Mapping[str, Any]) -> dict[str, str]:
    steps = _mapping(obj.get("status")).get("steps") or []
    return {str(_mapping(s).get("name")): str(_mapping(s).get("phase")) for s in steps}


def _rbac(namespace: str, flow: str, why: str) -> Requirement:
    return Requirement(
        (Permission("approve", JOBFLOW_PLURAL, namespace, group=GROUP, name=flow),),
        why,
        hint=RBAC_HINT,
    )


def check_approvals(
    *,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    namespace: str,
    name: str,
    username: str,
    groups: tuple[str, ...],
) -> ApprovalReview:
    """Judge the approvals an update (or a create: ``old`` empty) adds."""
    problems: list[str] = []
    requirements: list[Requirement] = []
    audits: list[str] = []
    manual = _manual_steps(new)
    phases = _phases(old)

    new_text, old_text = (
        _annotation(new, ANNOTATION_APPROVALS),
        _annotation(old, ANNOTATION_APPROVALS),
    )
    if new_text != old_text:
        try:
            entries = parse_entries(new_text)
        except ApprovalsError as exc:
            return ApprovalReview(problems=(f"{FIELD}: {exc}",))
        try:
            before = parse_entries(old_text)
        except ApprovalsError:
            before = []  # stored before the webhook judged it: only new entries are judged
        if entries[: len(before)] != before:
            problems.append(
                f"{FIELD}: recorded decisions may not be changed or removed; append new ones"
            )
        else:
            for index in range(len(before), len(entries)):
                found = _check_entry(
                    index, entries, manual=manual, phases=phases, username=username,
                    groups=groups, namespace=namespace,
                )  # fmt: skip
                if isinstance(found, str):
                    problems.append(found)
                    continue
                entry = entries[index]
                if found is None:
                    verb = "approving" if entry.decision == "approve" else "rejecting"
                    requirements.append(_rbac(namespace, name, f'{verb} step "{entry.step}"'))
                audits.append(
                    f"{FIELD}[{index}]: {entry.decision} of step {entry.step!r} by {username} "
                    "recorded"
                )

    legacy_new = _names(_annotation(new, ANNOTATION_APPROVE))
    legacy_old = _names(_annotation(old, ANNOTATION_APPROVE))
    for step in [s for s in legacy_new if s not in legacy_old and s in manual]:
        if manual[step] is not None:
            problems.append(
                f"{LEGACY_FIELD}: step {step!r} has an approval policy; approve it with "
                f"`kubectl jobflow approve` ({ANNOTATION_APPROVALS} records who approves)"
            )
        else:
            requirements.append(_rbac(namespace, name, f'approving step "{step}"'))
    return ApprovalReview(tuple(problems), tuple(requirements), tuple(audits))


def _names(value: str | None) -> list[str]:
    return [s.strip() for s in (value or "").split(",") if s.strip()]


def _check_entry(
    index: int,
    entries: list[ApprovalEntry],
    *,
    manual: Mapping[str, ApprovalPolicy | None],
    phases: Mapping[str, str],
    username: str,
    groups: tuple[str, ...],
    namespace: str,
) -> str | bool | None:
    """A problem (str), or whether the step's approvers list the user (None: RBAC decides)."""
    entry = entries[index]
    at = f"{FIELD}[{index}]"
    if entry.step not in manual:
        return f"{at}.step: {entry.step!r} is not a Manual step of this JobFlow"
    if entry.user != username:
        return (
            f"{at}.user: must name the requesting user {username!r}, not {entry.user!r} "
            "(nobody decides in another's name)"
        )
    phase = phases.get(entry.step, "")
    if phase in FINISHED:
        return f"{at}: step {entry.step!r} is no longer waiting for approval (phase {phase})"
    if entry.decision == "reject" and not (entry.reason or "").strip():
        return f"{at}.reason: a rejection needs a reason"
    if entry.decision == "approve" and any(
        e.step == entry.step and e.user == username and e.decision == "approve"
        for e in entries[:index]
    ):
        policy = manual[entry.step]
        required = policy.required if policy is not None else 1
        return (
            f"{at}: user {username!r} already approved step {entry.step!r}; an approver counts "
            f"once (approval.required: {required} distinct approvers)"
        )
    policy = manual[entry.step]
    allowed = approver_allowed(policy, namespace=namespace, username=username, groups=groups)
    if allowed is False and policy is not None and policy.approvers is not None:
        return (
            f"{at}: user {username!r} may not {entry.decision} step {entry.step!r}: not among "
            f"its approval.approvers ({describe_approvers(policy.approvers)})"
        )
    return allowed
