"""Property: no body crashes the admission handler (zenflow.webhook.admission).

Aspects: arbitrary bytes, arbitrary JSON values and AdmissionReview envelopes with arbitrary
request members always produce an Outcome: a 4xx Status, or a 200 AdmissionReview echoing the uid
— never an exception, never a 5xx — with the real validator behind it.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zenflow.core.validation.validator import validate_object
from zenflow.webhook.admission import handle_review

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


def check(body: bytes) -> None:
    out = handle_review(body, validate=validate_object)
    assert 200 <= out.http_status < 500
    if out.http_status == 200:
        assert out.body["kind"] == "AdmissionReview"
        assert isinstance(out.body["response"]["allowed"], bool)
    else:
        assert out.body["kind"] == "Status"
        assert out.body["message"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_any_bytes(body: bytes) -> None:
    check(body)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON)
def test_any_json(value: Any) -> None:
    check(json.dumps(value).encode())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    uid=st.text(max_size=8) | JSON,
    kind=st.sampled_from(["JobFlow", "CronJobFlow", "Pod"]) | JSON,
    operation=st.sampled_from(["CREATE", "UPDATE", "DELETE"]) | JSON,
    obj=JSON | st.fixed_dictionaries({"kind": st.just("JobFlow"), "spec": JSON}),
    old=JSON,
)
def test_any_request(uid: Any, kind: Any, operation: Any, obj: Any, old: Any) -> None:
    request = {
        "uid": uid,
        "kind": {"group": "workflow.zen.io", "version": "v1alpha1", "kind": kind},
        "resource": {"group": "workflow.zen.io", "version": "v1alpha1", "resource": "jobflows"},
        "operation": operation,
        "object": obj,
        "oldObject": old,
        "userInfo": {"username": "u"},
    }
    body = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    check(json.dumps(body).encode())
