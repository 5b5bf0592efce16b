"""What each ``kubectl jobflow`` verb writes (zenflow.api.actions), pure:

- approve adds to the comma-separated approvals with the resourceVersion, unknown steps refused;
- the merge patches of cancel, retry (whole flow / one step), suspend, resume;
- retry nonces differ per request;
- --param parsing (``=`` inside values, errors) and filling spec.params[].value, rejecting
  undeclared names and non-JobFlow documents without touching the input.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from zenflow.api.actions import (
    ActionError,
    approve_patch,
    cancel_patch,
    parse_params,
    retry_nonce,
    retry_patch,
    suspend_patch,
    with_params,
)
from zenflow.api.constants import (
    ANNOTATION_APPROVE,
    ANNOTATION_CANCEL,
    ANNOTATION_RETRY,
    ANNOTATION_RETRY_STEP,
)


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        pytest.param(
            cancel_patch(), {"metadata": {"annotations": {ANNOTATION_CANCEL: "true"}}}, id="cancel"
        ),
        pytest.param(
            retry_patch(nonce="n1", step=None),
            {"metadata": {"annotations": {ANNOTATION_RETRY: "n1", ANNOTATION_RETRY_STEP: None}}},
            id="retry-flow-clears-step",
        ),
        pytest.param(
            retry_patch(nonce="n2", step="build"),
            {"metadata": {"annotations": {ANNOTATION_RETRY: "n2", ANNOTATION_RETRY_STEP: "build"}}},
            id="retry-step",
        ),
        pytest.param(suspend_patch(suspend=True), {"spec": {"suspend": True}}, id="suspend"),
        pytest.param(suspend_patch(suspend=False), {"spec": {"suspend": False}}, id="resume"),
    ],
)
def test_patches(patch: dict[str, Any], expected: dict[str, Any]) -> None:
    assert patch == expected


def approvable(annotation: str | None) -> dict[str, Any]:
    annotations = {ANNOTATION_APPROVE: annotation} if annotation is not None else {}
    return {
        "metadata": {"name": "f", "resourceVersion": "42", "annotations": annotations},
        "spec": {"steps": [{"name": "a"}], "finally": [{"name": "b"}]},
    }


@pytest.mark.parametrize(
    ("current", "step", "expected"),
    [
        pytest.param(None, "a", "a", id="first"),
        pytest.param("a", "b", "a,b", id="adds-to-the-set"),
        pytest.param("b, a", "a", "b,a", id="already-approved"),
    ],
)
def test_approve_patch_adds_the_step_guarded_by_resource_version(
    current: str | None, step: str, expected: str
) -> None:
    assert approve_patch(approvable(current), step) == {
        "metadata": {"annotations": {ANNOTATION_APPROVE: expected}, "resourceVersion": "42"}
    }


def test_approve_patch_rejects_unknown_steps() -> None:
    with pytest.raises(ActionError, match="has no step 'zzz'"):
        approve_patch(approvable(None), "zzz")


def test_retry_nonce_is_unique_per_request() -> None:
    t = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert retry_nonce(t) == "2026-01-01T12:00:00.000000Z"
    assert retry_nonce(t + timedelta(microseconds=1)) != retry_nonce(t)


def test_parse_params() -> None:
    assert parse_params(["a=1", "url=http://x/?q=1", "a=2", "empty="]) == {
        "a": "2",
        "url": "http://x/?q=1",
        "empty": "",
    }


@pytest.mark.parametrize(
    "bad", [pytest.param("novalue", id="no-equals"), pytest.param("=v", id="no-name")]
)
def test_parse_params_rejects(bad: str) -> None:
    with pytest.raises(ActionError, match="NAME=VALUE"):
        parse_params([bad])


FLOW: dict[str, Any] = {
    "metadata": {"name": "f"},
    "spec": {
        "params": [{"name": "env", "default": "dev"}, {"name": "n"}],
        "steps": [{"name": "a"}],
    },
}


def test_with_params_sets_values_on_a_copy() -> None:
    doc = with_params(FLOW, {"env": "prod"})
    assert doc["spec"]["params"] == [
        {"name": "env", "default": "dev", "value": "prod"},
        {"name": "n"},
    ]
    assert doc["apiVersion"] == "workflow.zen.io/v1alpha1"
    assert doc["kind"] == "JobFlow"
    assert "value" not in FLOW["spec"]["params"][0]


def test_with_params_rejects_undeclared_names() -> None:
    with pytest.raises(ActionError, match=r"unknown param\(s\) nope \(declared: env, n\)"):
        with_params(FLOW, {"nope": "1"})


def test_with_params_rejects_other_kinds() -> None:
    with pytest.raises(ActionError, match="expected a JobFlow"):
        with_params({"kind": "CronJobFlow", "spec": {}}, {})
