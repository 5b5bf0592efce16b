"""Update rules of a JobFlow (zenflow.webhook.update_rules).

Aspects: when a flow counts as started (phase table, created-suspended); each frozen spec field is
named when changed on a started flow; steering fields stay editable; approvals are recorded with
the requesting identity; an approved-by annotation must name the requester, also when a new
approval leaves an earlier approver's name in place.
"""

from __future__ import annotations

from typing import Any

import pytest

from zenflow.api.constants import ANNOTATION_APPROVE, ANNOTATION_APPROVED_BY
from zenflow.webhook.update_rules import FROZEN_SPEC_FIELDS, check_jobflow_update, has_started


@pytest.mark.parametrize(
    ("status", "started"),
    [
        pytest.param(None, False, id="no-status"),
        pytest.param({"phase": ""}, False, id="empty"),
        pytest.param({"phase": "Pending"}, False, id="pending"),
        pytest.param({"phase": "Running"}, True, id="running"),
        pytest.param({"phase": "Failed"}, True, id="failed"),
        pytest.param({"phase": "Succeeded"}, True, id="succeeded"),
        pytest.param({"phase": "Suspended"}, False, id="created-suspended"),
        pytest.param(
            {"phase": "Suspended", "startTime": "2026-01-01T00:00:00Z"},
            True,
            id="suspended-after-start",
        ),
    ],
)
def test_has_started(status: dict[str, Any] | None, started: bool) -> None:
    obj: dict[str, Any] = {"spec": {}}
    if status is not None:
        obj["status"] = status
    assert has_started(obj) is started


@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in FROZEN_SPEC_FIELDS])
def test_frozen_field_change_on_started_flow_is_named(name: str) -> None:
    old = {"spec": {name: [1]}, "status": {"phase": "Running"}}
    new = {"spec": {name: [2]}}
    check = check_jobflow_update(old=old, new=new, username="u")
    assert check.problems == (
        f"spec.{name}: may not change once the flow has started (phase Running); "
        "create a new JobFlow or use retry",
    )
    assert check.spec_changed


def test_steering_fields_stay_editable() -> None:
    spec = {"steps": [{"name": "a"}], "executionPolicy": {"activeDeadlineSeconds": 5}}
    old = {"spec": spec, "status": {"phase": "Running"}}
    new = {
        "spec": {
            **spec,
            "suspend": True,
            "executionPolicy": {"activeDeadlineSeconds": 9, "ttlSecondsAfterFinished": 1},
        },
        "metadata": {"labels": {"x": "y"}},
    }
    check = check_jobflow_update(old=old, new=new, username="u")
    assert check.problems == ()
    assert check.spec_changed


def test_approval_recorded_with_identity() -> None:
    old: dict[str, Any] = {"metadata": {"annotations": {}}, "spec": {}}
    new = {
        "metadata": {"annotations": {ANNOTATION_APPROVE: "gate", ANNOTATION_APPROVED_BY: "dave"}},
        "spec": {},
    }
    check = check_jobflow_update(old=old, new=new, username="dave", groups=("ops",))
    assert check.problems == ()
    assert check.approval is not None
    assert (check.approval.value, check.approval.username, check.approval.groups) == (
        "gate",
        "dave",
        ("ops",),
    )
    assert not check.spec_changed


def test_unchanged_approve_annotation_is_not_a_new_approval() -> None:
    obj = {
        "metadata": {"annotations": {ANNOTATION_APPROVE: "gate", ANNOTATION_APPROVED_BY: "dave"}},
        "spec": {},
    }
    check = check_jobflow_update(old=obj, new=obj, username="controller")
    assert check.approval is None
    assert check.problems == ()


def test_a_second_approver_cannot_pass_as_the_first() -> None:
    """bob approves a second step and leaves dave's approved-by in place: refused, so the
    second approval is never recorded under dave's name."""
    old = {
        "metadata": {"annotations": {ANNOTATION_APPROVE: "gate", ANNOTATION_APPROVED_BY: "dave"}},
        "spec": {},
    }
    new = {
        "metadata": {
            "annotations": {ANNOTATION_APPROVE: "gate,deploy", ANNOTATION_APPROVED_BY: "dave"}
        },
        "spec": {},
    }
    check = check_jobflow_update(old=old, new=new, username="bob")
    assert check.problems == (
        f"metadata.annotations[{ANNOTATION_APPROVED_BY}]: must name the requesting user "
        "'bob', not 'dave'",
    )
    annotations = {ANNOTATION_APPROVE: "gate,deploy", ANNOTATION_APPROVED_BY: "bob"}
    named = {"metadata": {"annotations": annotations}, "spec": {}}
    assert check_jobflow_update(old=old, new=named, username="bob").problems == ()
