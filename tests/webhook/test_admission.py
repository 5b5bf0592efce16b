"""AdmissionReview handling (zenflow.webhook.admission), with a stand-in validator.

Aspects: valid create allowed with uid echoed; every problem in the denial's message and causes;
warnings passed through on allow and deny; malformed JSON / non-object / wrong apiVersion or kind /
missing uid / oversized body / foreign resource give a 4xx Status; DELETE and subresources are
allowed untouched; update rules (frozen fields on a started flow, metadata-only updates of an
invalid stored object allowed, approvals audited, forged approved-by denied); a crashing validator
denies with result "error" and never raises; a body nested too deeply to decode (20,000 levels)
is a denial when its uid can be read, else a 400; a forged created-by is denied; an admitted
CREATE or spec change carries the author's access plan and identity (groups, uid, extra), a
metadata-only update none.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from zenflow.api.constants import ANNOTATION_APPROVE, ANNOTATION_APPROVED_BY
from zenflow.webhook.admission import MAX_BODY_BYTES, handle_review
from zenflow.webhook.creator import ANNOTATION_CREATED_BY


@dataclass
class Report:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def fake_validate(obj: Mapping[str, Any]) -> Report:
    """Errors for steps without an image; a warning for steps without dependencies list."""
    report = Report()
    for i, step in enumerate(obj.get("spec", {}).get("steps", [])):
        if "image" not in step:
            report.errors.append(f"spec.steps[{i}].image: required")
        if "note" in step:
            report.warnings.append(f"spec.steps[{i}].note: {step['note']}")
    return report


def flow(
    *steps: dict[str, Any],
    phase: str = "",
    annotations: dict[str, str] | None = None,
    kind: str = "JobFlow",
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "workflow.zen.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": "f", "namespace": "ns", "annotations": annotations or {}},
        "spec": {"steps": list(steps)},
    }
    if phase:
        obj["status"] = {"phase": phase}
    return obj


def review(
    obj: dict[str, Any] | None,
    *,
    operation: str = "CREATE",
    old: dict[str, Any] | None = None,
    kind: str = "JobFlow",
    group: str = "workflow.zen.io",
    user: str = "alice",
    sub: str = "",
) -> bytes:
    request: dict[str, Any] = {
        "uid": "1234-abcd",
        "kind": {"group": group, "version": "v1alpha1", "kind": kind},
        "resource": {"group": group, "version": "v1alpha1", "resource": kind.lower() + "s"},
        "operation": operation,
        "name": "f",
        "namespace": "ns",
        "userInfo": {"username": user, "groups": ["system:authenticated"]},
        "object": obj,
        "oldObject": old,
    }
    if sub:
        request["subResource"] = sub
    return json.dumps(
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    ).encode()


GOOD = {"name": "a", "image": "busybox"}
BAD = {"name": "b"}


def test_valid_create_is_allowed_and_uid_echoed() -> None:
    out = handle_review(review(flow(GOOD)), validate=fake_validate)
    assert out.http_status == 200
    assert out.result == "allowed"
    assert out.body["apiVersion"] == "admission.k8s.io/v1"
    assert out.body["kind"] == "AdmissionReview"
    assert out.body["response"] == {"uid": "1234-abcd", "allowed": True}
    assert (out.kind, out.operation, out.namespace, out.name) == ("JobFlow", "CREATE", "ns", "f")


def test_denial_carries_every_message_and_cause() -> None:
    out = handle_review(review(flow(BAD, {"name": "c", "note": "hm"})), validate=fake_validate)
    response = out.body["response"]
    assert out.result == "denied"
    assert response["allowed"] is False
    assert response["uid"] == "1234-abcd"
    status = response["status"]
    assert status["code"] == 422
    assert status["reason"] == "Invalid"
    assert status["message"] == (
        'JobFlow "f" is invalid: spec.steps[0].image: required; spec.steps[1].image: required'
    )
    assert [c["field"] for c in status["details"]["causes"]] == [
        "spec.steps[0].image",
        "spec.steps[1].image",
    ]
    assert response["warnings"] == ["spec.steps[1].note: hm"]


def test_warnings_on_allowed_review() -> None:
    out = handle_review(review(flow({**GOOD, "note": "slow"})), validate=fake_validate)
    assert out.body["response"] == {
        "uid": "1234-abcd",
        "allowed": True,
        "warnings": ["spec.steps[0].note: slow"],
    }


def test_cronjobflow_is_validated_too() -> None:
    out = handle_review(
        review(flow(BAD, kind="CronJobFlow"), kind="CronJobFlow"), validate=fake_validate
    )
    assert out.result == "denied"
    assert out.kind == "CronJobFlow"
    assert out.body["response"]["status"]["message"].startswith('CronJobFlow "f" is invalid')


def _envelope(**changes: Any) -> bytes:
    doc = json.loads(review(flow(GOOD)))
    doc.update(changes)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        pytest.param(b"{not json", 400, "not valid JSON", id="malformed-json"),
        pytest.param(b"\xff\xfe", 400, "not valid JSON", id="not-utf8"),
        pytest.param(b"[1, 2]", 400, "JSON object", id="array"),
        pytest.param(
            _envelope(apiVersion="admission.k8s.io/v1beta1"),
            400,
            "admission.k8s.io/v1",
            id="v1beta1",
        ),
        pytest.param(_envelope(kind="TokenReview"), 400, "AdmissionReview", id="wrong-kind"),
        pytest.param(_envelope(request=None), 400, "request", id="no-request"),
        pytest.param(
            _envelope(request={"uid": "", "operation": "CREATE"}),
            400,
            "request.uid",
            id="empty-uid",
        ),
        pytest.param(
            review(flow(GOOD), kind="Deployment", group="apps"),
            400,
            "got kind 'Deployment' in group 'apps'",
            id="foreign-resource",
        ),
        pytest.param(review(None), 400, "carries no object", id="create-without-object"),
        pytest.param(
            review(flow(GOOD), operation="UPDATE"), 400, "oldObject", id="update-without-old"
        ),
        pytest.param(b" " * (MAX_BODY_BYTES + 1), 413, "exceeds", id="oversized"),
    ],
)
def test_bad_requests_get_a_clear_4xx(body: bytes, status: int, needle: str) -> None:
    out = handle_review(body, validate=fake_validate)
    assert out.http_status == status
    assert out.result == "rejected"
    assert out.body["kind"] == "Status"
    assert out.body["code"] == status
    assert needle in out.body["message"]


@pytest.mark.parametrize(
    ("operation", "sub"),
    [pytest.param("DELETE", "", id="delete"), pytest.param("UPDATE", "status", id="status")],
)
def test_operations_we_do_not_judge_are_allowed(operation: str, sub: str) -> None:
    out = handle_review(
        review(flow(BAD), operation=operation, old=flow(BAD), sub=sub), validate=fake_validate
    )
    assert out.body["response"] == {"uid": "1234-abcd", "allowed": True}


@pytest.mark.parametrize(
    ("phase", "new_steps", "allowed", "needle"),
    [
        pytest.param("", [GOOD, {"name": "x", "image": "y"}], True, "", id="pending-steps-edit"),
        pytest.param(
            "Running",
            [GOOD, {"name": "x", "image": "y"}],
            False,
            "spec.steps: may not change once the flow has started (phase Running); "
            "create a new JobFlow or use retry",
            id="running-steps-edit",
        ),
        pytest.param("Succeeded", [GOOD], True, "", id="finished-unchanged"),
        pytest.param(
            "Running",
            [BAD],
            False,
            "spec.steps[0].image: required",
            id="running-invalid-edit-names-both",
        ),
    ],
)
def test_update_rules(
    phase: str, new_steps: list[dict[str, Any]], allowed: bool, needle: str
) -> None:
    out = handle_review(
        review(flow(*new_steps, phase=phase), operation="UPDATE", old=flow(GOOD, phase=phase)),
        validate=fake_validate,
    )
    assert out.body["response"]["allowed"] is allowed
    if needle:
        assert needle in out.body["response"]["status"]["message"]


def test_running_flow_may_be_suspended() -> None:
    new = flow(GOOD, phase="Running")
    new["spec"]["suspend"] = True
    new["spec"]["executionPolicy"] = {"ttlSecondsAfterFinished": 60}
    out = handle_review(
        review(new, operation="UPDATE", old=flow(GOOD, phase="Running")), validate=fake_validate
    )
    assert out.result == "allowed"


def test_metadata_only_update_of_invalid_stored_flow_is_allowed() -> None:
    """The controller must be able to remove its finalizer from a flow that is invalid now."""
    old = flow(BAD, phase="Failed")
    new = flow(BAD, phase="Failed")
    new["metadata"]["finalizers"] = []
    out = handle_review(review(new, operation="UPDATE", old=old), validate=fake_validate)
    assert out.result == "allowed"


def test_approval_is_allowed_warned_and_audited() -> None:
    old = flow(GOOD, phase="Running")
    new = flow(GOOD, phase="Running", annotations={ANNOTATION_APPROVE: "deploy"})
    out = handle_review(
        review(new, operation="UPDATE", old=old, user="bob"), validate=fake_validate
    )
    assert out.result == "allowed"
    assert out.approval is not None
    assert (out.approval.value, out.approval.username) == ("deploy", "bob")
    assert any("approval 'deploy' by bob" in w for w in out.body["response"]["warnings"])


def test_forged_approved_by_is_denied() -> None:
    old = flow(GOOD, phase="Running")
    new = flow(
        GOOD,
        phase="Running",
        annotations={ANNOTATION_APPROVE: "deploy", ANNOTATION_APPROVED_BY: "carol"},
    )
    out = handle_review(
        review(new, operation="UPDATE", old=old, user="bob"), validate=fake_validate
    )
    assert out.result == "denied"
    assert (
        f"metadata.annotations[{ANNOTATION_APPROVED_BY}]: must name the requesting user "
        "'bob', not 'carol'"
    ) in out.body["response"]["status"]["message"]


def test_crashing_validator_denies_without_raising() -> None:
    def broken(obj: Mapping[str, Any]) -> Report:
        raise RuntimeError("boom")

    out = handle_review(review(flow(GOOD)), validate=broken)
    assert out.http_status == 200
    assert out.result == "error"
    assert out.body["response"]["allowed"] is False
    assert (
        "internal error while validating: RuntimeError: boom"
        in (out.body["response"]["status"]["message"])
    )


def test_approval_at_creation_is_audited_too() -> None:
    new = flow(GOOD, annotations={ANNOTATION_APPROVE: "gate"})
    out = handle_review(review(new, user="erin"), validate=fake_validate)
    assert out.result == "allowed"
    assert out.approval is not None
    assert out.approval.username == "erin"
    forged = flow(GOOD, annotations={ANNOTATION_APPROVED_BY: "frank"})
    assert handle_review(review(forged, user="erin"), validate=fake_validate).result == "denied"


def _deep_review(depth: int, *, uid: bool = True) -> bytes:
    nested = "[" * depth + "]" * depth
    head = '{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{'
    if uid:
        head += '"uid":"deep-1",'
    return (
        head + '"kind":{"group":"workflow.zen.io","version":"v1alpha1","kind":"JobFlow"},'
        '"operation":"CREATE","namespace":"ns","object":{"spec":{"x":' + nested + "}}}}"
    ).encode()


def test_body_too_deep_to_decode_is_a_denial_naming_the_reason() -> None:
    """20,000 levels (the API server itself stops at 10,000): refused, never a 500."""
    out = handle_review(_deep_review(20_000), validate=fake_validate)
    assert out.http_status == 200
    response = out.body["response"]
    assert (response["uid"], response["allowed"]) == ("deep-1", False)
    assert response["status"]["code"] == 400
    assert "nested too deeply to decode" in response["status"]["message"]


def test_body_too_deep_without_a_uid_is_a_400() -> None:
    out = handle_review(_deep_review(20_000, uid=False), validate=fake_validate)
    assert out.http_status == 400
    assert out.body["kind"] == "Status"
    assert "nested too deeply" in out.body["message"]


def test_any_exception_inside_is_a_denial_not_a_raise() -> None:
    class Exploding:
        @property
        def errors(self) -> list[str]:
            raise MemoryError

        warnings: list[str] = []

    out = handle_review(review(flow(GOOD)), validate=lambda obj: Exploding())
    assert out.http_status == 200
    assert out.result == "error"
    assert out.body["response"]["allowed"] is False


def test_forged_created_by_is_denied() -> None:
    forged = flow(GOOD, annotations={ANNOTATION_CREATED_BY: "mallory"})
    out = handle_review(review(forged, user="erin"), validate=fake_validate)
    assert out.result == "denied"
    assert (
        f"metadata.annotations[{ANNOTATION_CREATED_BY}]: is set by the admission webhook to the "
        "requesting user; must be 'erin', not 'mallory'"
    ) in out.body["response"]["status"]["message"]


def test_access_plan_on_create_and_spec_change_only() -> None:
    body = json.loads(review(flow(GOOD)))
    body["request"]["userInfo"] = {
        "username": "alice",
        "uid": "u-1",
        "groups": ["team-a", "system:authenticated"],
        "extra": {"scopes": ["a", "b"]},
    }
    created = handle_review(json.dumps(body).encode(), validate=fake_validate)
    assert created.access is not None
    assert created.access.namespace == "ns"
    assert [r.describe() for r in created.access.requirements] == ["create jobs.batch"]
    assert created.requester is not None
    assert created.requester.groups == ("team-a", "system:authenticated")
    assert created.requester.extra == (("scopes", ("a", "b")),)
    assert created.uid == "1234-abcd"

    old = flow(GOOD, phase="Running")
    new = flow(GOOD, phase="Running", annotations={ANNOTATION_APPROVE: "gate"})
    metadata_only = handle_review(review(new, operation="UPDATE", old=old), validate=fake_validate)
    assert metadata_only.result == "allowed"
    assert metadata_only.access is None

    edited = flow(GOOD, {"name": "more", "image": "busybox"})
    spec_change = handle_review(
        review(edited, operation="UPDATE", old=flow(GOOD)), validate=fake_validate
    )
    assert spec_change.access is not None
