"""Approvals judged at admission (pure): zenflow.webhook.approvals and its place in the review.

Aspects: an entry naming the requester and allowed by the step's approvers passes (audited); one
naming someone else, a repeat of the same approver, a rejection without a reason, a step that is
not Manual or already finished, a user outside approval.approvers, a malformed annotation, and a
changed or removed recorded entry are each refused naming the field and the rule; a step without
approvers leaves the decision to the RBAC verb approve (a SubjectAccessReview requirement, also
for the older approve annotation, which a step with a policy refuses); the review carries those
requirements in its access plan even when the spec did not change."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from zenflow.api.approvals import ApprovalEntry, dump_entries
from zenflow.api.constants import ANNOTATION_APPROVALS, ANNOTATION_APPROVE
from zenflow.core.validation.validator import validate_object
from zenflow.webhook.admission import handle_review
from zenflow.webhook.approvals import check_approvals

NOW = datetime(2026, 1, 1, tzinfo=UTC)
FIELD = f"metadata.annotations[{ANNOTATION_APPROVALS}]"


def entry(user: str, step: str = "gate", decision: str = "approve", reason: str | None = None
          ) -> ApprovalEntry:  # fmt: skip
    return ApprovalEntry.model_validate(
        {"step": step, "user": user, "time": NOW, "decision": decision, "reason": reason}
    )


def flow(entries: list[ApprovalEntry] | str | None = None, *, phase: str = "Waiting",
         legacy: str | None = None) -> dict[str, Any]:  # fmt: skip
    annotations: dict[str, str] = {}
    if entries is not None:
        annotations[ANNOTATION_APPROVALS] = (
            entries if isinstance(entries, str) else dump_entries(entries)
        )
    if legacy is not None:
        annotations[ANNOTATION_APPROVE] = legacy
    return {
        "apiVersion": "workflow.zen.io/v1alpha1",
        "kind": "JobFlow",
        "metadata": {"name": "rel", "namespace": "team", "annotations": annotations},
        "spec": {
            "steps": [
                {"name": "gate", "type": "Manual",
                 "approval": {"required": 2, "approvers": {"users": ["alice", "bob"],
                                                           "groups": ["ops"]}}},
                {"name": "open", "type": "Manual", "dependencies": ["gate"]},
                {"name": "job", "run": {"image": "busybox"}, "dependencies": ["open"]},
            ]
        },
        "status": {"phase": "Running", "steps": [{"name": "gate", "phase": phase}]},
    }  # fmt: skip


def check(old: dict[str, Any], new: dict[str, Any], user: str, *groups: str) -> Any:
    return check_approvals(
        old=old, new=new, namespace="team", name="rel", username=user, groups=groups
    )


def test_an_allowed_approval_passes_and_is_audited() -> None:
    review = check(flow([entry("alice")]), flow([entry("alice"), entry("bob")]), "bob")
    assert review.problems == ()
    assert review.requirements == ()
    assert review.audits == (f"{FIELD}[1]: approve of step 'gate' by bob recorded",)
    by_group = check(flow(), flow([entry("zoe")]), "zoe", "ops")
    assert by_group.problems == ()


@pytest.mark.parametrize(
    ("old", "new", "user", "problem"),
    [
        pytest.param(
            flow(), flow([entry("bob")]), "alice",
            f"{FIELD}[0].user: must name the requesting user 'alice', not 'bob' (nobody decides "
            "in another's name)",
            id="forged",
        ),
        pytest.param(
            flow([entry("alice")]), flow([entry("alice"), entry("alice")]), "alice",
            f"{FIELD}[1]: user 'alice' already approved step 'gate'; an approver counts once "
            "(approval.required: 2 distinct approvers)",
            id="repeat",
        ),
        pytest.param(
            flow(), flow([entry("dave")]), "dave",
            f"{FIELD}[0]: user 'dave' may not approve step 'gate': not among its "
            "approval.approvers (users alice, bob; groups ops)",
            id="not-an-approver",
        ),
        pytest.param(
            flow(), flow([entry("alice", decision="reject")]), "alice",
            f"{FIELD}[0].reason: a rejection needs a reason",
            id="reject-without-reason",
        ),
        pytest.param(
            flow(), flow([entry("alice", step="job")]), "alice",
            f"{FIELD}[0].step: 'job' is not a Manual step of this JobFlow",
            id="not-manual",
        ),
        pytest.param(
            flow(phase="Succeeded"), flow([entry("alice")], phase="Succeeded"), "alice",
            f"{FIELD}[0]: step 'gate' is no longer waiting for approval (phase Succeeded)",
            id="finished",
        ),
        pytest.param(
            flow([entry("alice")]), flow([entry("bob")]), "bob",
            f"{FIELD}: recorded decisions may not be changed or removed; append new ones",
            id="rewritten",
        ),
        pytest.param(
            flow(), flow("{not json"), "alice",
            f"{FIELD}: not JSON: Expecting property name enclosed in double quotes: line 1 "
            "column 2 (char 1)",
            id="malformed",
        ),
        pytest.param(
            flow(), flow('[{"step": "gate", "user": "alice"}]'), "alice",
            f"{FIELD}: entry [0].time: Field required",
            id="missing-time",
        ),
        pytest.param(
            flow(), flow(legacy="gate"), "alice",
            f"metadata.annotations[{ANNOTATION_APPROVE}]: step 'gate' has an approval policy; "
            f"approve it with `kubectl jobflow approve` ({ANNOTATION_APPROVALS} records who "
            "approves)",
            id="legacy-on-a-governed-step",
        ),
    ],
)  # fmt: skip
def test_refusals_name_the_rule(
    old: dict[str, Any], new: dict[str, Any], user: str, problem: str
) -> None:
    assert check(old, new, user).problems == (problem,)


def test_steps_without_approvers_are_left_to_rbac() -> None:
    review = check(flow(), flow([entry("dave", step="open")]), "dave")
    assert review.problems == ()
    (req,) = review.requirements
    (perm,) = req.any_of
    assert (perm.verb, perm.resource, perm.group, perm.namespace, perm.name) == (
        "approve", "jobflows", "workflow.zen.io", "team", "rel",
    )  # fmt: skip
    assert req.why == 'approving step "open"'
    assert "RBAC verb approve" in req.hint
    legacy = check(flow(legacy="gate"), flow(legacy="gate,open"), "dave")
    assert (legacy.problems, len(legacy.requirements)) == ((), 1)


def review(old: dict[str, Any], new: dict[str, Any], user: str) -> bytes:
    return json.dumps(
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": "u-1",
                "kind": {"group": "workflow.zen.io", "version": "v1alpha1", "kind": "JobFlow"},
                "resource": {"group": "workflow.zen.io", "version": "v1alpha1",
                             "resource": "jobflows"},
                "operation": "UPDATE",
                "name": "rel",
                "namespace": "team",
                "userInfo": {"username": user, "groups": ["system:authenticated"]},
                "object": new,
                "oldObject": old,
            },
        }
    ).encode()  # fmt: skip


def test_the_review_denies_and_carries_the_rbac_check() -> None:
    denied = handle_review(review(flow(), flow([entry("bob")]), "alice"), validate=validate_object)
    assert denied.result == "denied"
    assert (
        "must name the requesting user 'alice', not 'bob'"
        in denied.body["response"]["status"]["message"]
    )
    rbac = handle_review(
        review(flow(), flow([entry("dave", step="open")]), "dave"), validate=validate_object
    )
    assert rbac.result == "allowed"
    assert rbac.access is not None
    assert [p.verb for r in rbac.access.requirements for p in r.any_of] == ["approve"]
    assert f"{FIELD}[0]: approve of step 'open' by dave recorded" in rbac.warnings
