"""Hostile objects through the admission handler with the real validator (issue 9).

Aspects: random and adversarial specs (nesting thousands deep, ``when`` bombs, huge matrices and
strings) in a CREATE never raise and never answer 5xx; every denial is a 422 whose causes each
name a field; the hostile cases the controller fails as Invalid are denied naming their field;
a metadata-only UPDATE of such a stored object (the cancel annotation, a finalizer removed) is
admitted, so it can always be cancelled and deleted, while a spec change of it is denied.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.core.validation.test_fuzz import BASE, PATHS, hostile_values
from zenflow.api.constants import ANNOTATION_CANCEL
from zenflow.core.validation.validator import validate_object
from zenflow.webhook.admission import Outcome, handle_review


def review(obj: Any, *, operation: str = "CREATE", old: Any = None) -> bytes:
    request: dict[str, Any] = {
        "uid": "r-1",
        "kind": {"group": "workflow.zen.io", "version": "v1alpha1", "kind": "JobFlow"},
        "resource": {"group": "workflow.zen.io", "version": "v1alpha1", "resource": "jobflows"},
        "operation": operation,
        "name": "test",
        "namespace": "ns",
        "object": obj,
        "oldObject": old,
        "userInfo": {"username": "alice"},
    }
    body = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    # The API server's own encoder does not recurse in Python: neither may this test's.
    return _encode(body).encode()


def _encode(value: Any) -> str:
    """json.dumps without recursion limits (the objects here nest thousands of levels)."""
    out: list[str] = []
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Raw):
            out.append(item.text)
        elif isinstance(item, dict):
            parts: list[Any] = [_Raw("{")]
            for i, (k, v) in enumerate(item.items()):
                parts += [_Raw(("," if i else "") + json.dumps(k) + ":"), v]
            parts.append(_Raw("}"))
            stack.extend(reversed(parts))
        elif isinstance(item, list):
            parts = [_Raw("[")]
            for i, v in enumerate(item):
                parts += [_Raw("," if i else ""), v]
            parts.append(_Raw("]"))
            stack.extend(reversed(parts))
        else:
            out.append(json.dumps(item))
    return "".join(out)


class _Raw:
    def __init__(self, text: str) -> None:
        self.text = text


def judged(body: bytes) -> Outcome:
    outcome = handle_review(body, validate=validate_object)
    assert outcome.http_status == 200, outcome.body
    response = outcome.body["response"]
    if not response["allowed"]:
        status = response["status"]
        if status["code"] == 422:
            causes = status["details"]["causes"]
            assert causes
            assert all(c.get("field") for c in causes), causes
    return outcome


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_values)
def test_hostile_specs_are_judged_never_crash(value: Any) -> None:
    judged(review({**BASE, "spec": value}))


def _mutated(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    obj = copy.deepcopy(BASE)
    node: Any = obj
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return obj


def _deep_when_flow() -> dict[str, Any]:
    obj = copy.deepcopy(BASE)
    obj["spec"]["steps"][0]["when"] = "(" * 250 + "true" + ")" * 250
    return obj


def _deep_template_flow() -> dict[str, Any]:
    obj = copy.deepcopy(BASE)
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(5_000):
        deep = {"x": deep}
    obj["spec"]["steps"][2]["template"]["metadata"] = {"annotations": deep}
    return obj


@pytest.mark.parametrize(
    ("build", "field"),
    [
        pytest.param(_deep_when_flow, "spec.steps[0].when", id="when-250-parentheses"),
        pytest.param(
            _deep_template_flow, "spec.steps[2].template.metadata.annotations.x", id="5000-levels"
        ),
    ],
)
def test_hostile_cases_are_denied_naming_the_field(build: Any, field: str) -> None:
    outcome = judged(review(build()))
    assert outcome.body["response"]["allowed"] is False
    causes = outcome.body["response"]["status"]["details"]["causes"]
    assert any(c["field"].startswith(field) for c in causes), causes


@pytest.mark.parametrize("build", [_deep_when_flow, _deep_template_flow])
def test_a_stored_invalid_flow_can_still_be_cancelled_but_not_changed(build: Any) -> None:
    # Each object built afresh: copy.deepcopy itself recurses per level.
    stored = {**build(), "metadata": {"name": "test", "finalizers": ["example.com/keep"]}}
    cancel = {**build(), "metadata": {"name": "test", "annotations": {ANNOTATION_CANCEL: "true"}}}
    allowed = judged(review(cancel, operation="UPDATE", old=stored))
    assert allowed.body["response"]["allowed"] is True
    edited = build()
    edited["spec"]["suspend"] = True
    denied = judged(
        review({**edited, "metadata": {"name": "test"}}, operation="UPDATE", old=stored)
    )
    assert denied.body["response"]["allowed"] is False


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PATHS), hostile_values)
def test_hostile_single_fields_are_judged_never_crash(path: tuple[Any, ...], value: Any) -> None:
    judged(review(_mutated(path, value)))
