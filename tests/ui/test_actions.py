"""The UI's approve and reject actions (zenflow.ui.actions), on a fake transport:

- approve asks the API server who the user is (a SelfSubjectReview) and appends a decision in
  that name to the approvals annotation, guarded by the resourceVersion it read; it no longer
  sends the old ``workflow.zen.io/approve`` annotation;
- reject sends the reject decision with its reason, and is refused before any API call
  without a reason;
- a 409 on the decision patch is retried on a fresh read;
- the API server's refusal (the webhook's denial) comes back with its status and message.
"""

from __future__ import annotations

import json
from typing import Any

from tests.support.fake_transport import FakeTransport, reply, status_reply
from tests.ui.conftest import LOGIN, MakeClient
from tests.ui.test_security import _csrf
from zenflow.api.constants import ANNOTATION_APPROVALS, ANNOTATION_APPROVE
from zenflow.kube.identity import SELF_SUBJECT_REVIEWS
from zenflow.kube.rest import Rest

FLOW = "/apis/workflow.zen.io/v1alpha1/namespaces/ns/jobflows/f"


def _flow(rv: str) -> dict[str, Any]:
    return {
        "apiVersion": "workflow.zen.io/v1alpha1",
        "kind": "JobFlow",
        "metadata": {"namespace": "ns", "name": "f", "resourceVersion": rv},
        "spec": {"steps": [{"name": "gate", "type": "Manual"}, {"name": "b"}]},
    }


def _fake(*flows: dict[str, Any]) -> FakeTransport:
    fake = FakeTransport()
    review = {"status": {"userInfo": {"username": "alice@example.com", "groups": ["dev"]}}}
    fake.answer("POST", SELF_SUBJECT_REVIEWS, reply(review, 201))
    fake.answer("GET", FLOW, *[reply(f) for f in flows])
    fake.answer("PATCH", FLOW, reply(flows[-1]))
    return fake


async def _post(make: MakeClient, fake: FakeTransport, verb: str, body: Any) -> Any:
    test_client, state = await make()
    state.rest = Rest(fake)
    await test_client.get(f"/?token={LOGIN}")
    headers = {"X-CSRF-Token": await _csrf(test_client)}
    return await test_client.post(f"/api/flows/ns/f/{verb}", json=body, headers=headers)


def _entries(patch: dict[str, Any]) -> list[dict[str, Any]]:
    annotations = patch["metadata"]["annotations"]
    assert ANNOTATION_APPROVE not in annotations
    entries: list[dict[str, Any]] = json.loads(annotations[ANNOTATION_APPROVALS])
    return entries


async def test_approve_records_the_user_the_api_server_names(ui_app: MakeClient) -> None:
    fake = _fake(_flow("7"))
    resp = await _post(ui_app, fake, "approve", {"step": "gate"})
    assert resp.status == 200, await resp.text()
    assert "approved by alice@example.com" in (await resp.json())["message"]
    (patch,) = fake.sent("PATCH", FLOW)
    assert patch.body["metadata"]["resourceVersion"] == "7"
    (entry,) = _entries(patch.body)
    assert entry["step"] == "gate"
    assert entry["user"] == "alice@example.com"
    assert entry["decision"] == "approve"


async def test_reject_sends_the_reason(ui_app: MakeClient) -> None:
    fake = _fake(_flow("7"))
    resp = await _post(ui_app, fake, "reject", {"step": "gate", "reason": "wrong build"})
    assert resp.status == 200, await resp.text()
    assert "rejected by alice@example.com" in (await resp.json())["message"]
    (patch,) = fake.sent("PATCH", FLOW)
    (entry,) = _entries(patch.body)
    assert (entry["decision"], entry["reason"], entry["user"]) == (
        "reject",
        "wrong build",
        "alice@example.com",
    )


async def test_reject_without_a_reason_is_refused_before_any_api_call(ui_app: MakeClient) -> None:
    fake = _fake(_flow("7"))
    for body in ({"step": "gate"}, {"step": "gate", "reason": "  "}):
        resp = await _post(ui_app, fake, "reject", body)
        assert resp.status == 400
        assert "reason" in (await resp.json())["error"]
    assert fake.requests == []


async def test_a_conflict_is_retried_on_a_fresh_read(ui_app: MakeClient) -> None:
    fake = _fake(_flow("7"), _flow("8"))
    conflict = status_reply(409, "Conflict", "the object has been modified")
    fake.answer("PATCH", FLOW, conflict, reply(_flow("8")))
    resp = await _post(ui_app, fake, "approve", {"step": "gate"})
    assert resp.status == 200, await resp.text()
    versions = [p.body["metadata"]["resourceVersion"] for p in fake.sent("PATCH", FLOW)]
    assert versions == ["7", "8"]


async def test_the_webhooks_refusal_comes_back_verbatim(ui_app: MakeClient) -> None:
    fake = _fake(_flow("7"))
    denial = 'admission webhook denied the request: step "gate": alice@example.com may not approve'
    fake.answer("PATCH", FLOW, status_reply(403, "Forbidden", denial))
    resp = await _post(ui_app, fake, "approve", {"step": "gate"})
    assert resp.status == 403
    assert denial in (await resp.json())["error"]


async def test_a_step_that_is_not_manual_is_refused(ui_app: MakeClient) -> None:
    fake = _fake(_flow("7"))
    resp = await _post(ui_app, fake, "approve", {"step": "b"})
    assert resp.status == 400
    assert "not a Manual step" in (await resp.json())["error"]
    assert fake.sent("PATCH") == []
