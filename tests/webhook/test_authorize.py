"""Flow authorization (zenflow.webhook.authorize) against a fake transport (pure unit tests; the
real API server's answers are tested in test_authorization_integration.py).

Aspects: the SubjectAccessReview carries the requester exactly (user, groups, uid, extra) and the
permission's attributes; every missing requirement is named in one 403 denial that keeps the
review's uid and warnings; a requirement with alternatives holds when any one is allowed; the
controller's namespace and unresolvable ServiceAccount names are refused without asking; an
answer that cannot be had (API error, deadline) refuses (fail closed); allowed answers are cached
for the TTL and denied ones never; outcomes that are not allowed or carry no plan pass untouched.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from typing import Any

import pytest

from tests.webhook.test_admission import GOOD, fake_validate, flow, review
from zenflow.kube.rest import Rest
from zenflow.kube.transport import Reply, Request, Streamed, Transport
from zenflow.webhook.admission import Outcome, handle_review
from zenflow.webhook.authorize import SAR_PATH, FlowAuthorizer

Policy = Callable[[dict[str, Any]], bool | int]


class FakeSAR(Transport):
    """Answers SubjectAccessReviews by ``policy(spec)``: a bool, or an HTTP error status."""

    host = "https://fake"

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.specs: list[dict[str, Any]] = []

    async def send(self, request: Request) -> Reply:
        assert (request.method, request.path) == ("POST", SAR_PATH)
        spec = request.body["spec"]
        self.specs.append(spec)
        answer = self.policy(spec)
        if isinstance(answer, bool):
            status = {"allowed": answer}
            body = {"kind": "SubjectAccessReview", "status": status}
            return Reply(201, "Created", json.dumps(body).encode())
        return Reply(answer, "Forbidden", b'{"message": "no", "reason": "Forbidden"}')

    def open(self, request: Request) -> AbstractAsyncContextManager[Streamed]:
        raise NotImplementedError


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def allowed_review(obj: dict[str, Any], *, namespace: str = "ns") -> Outcome:
    body = json.loads(review(obj))
    body["request"]["namespace"] = namespace
    body["request"]["userInfo"] = {
        "username": "alice",
        "uid": "u-7",
        "groups": ["devs", "system:authenticated"],
        "extra": {"scopes": ["x"]},
    }
    out = handle_review(json.dumps(body).encode(), validate=fake_validate)
    assert out.result == "allowed"
    return out


def with_sa(name: str) -> dict[str, Any]:
    pod = {"serviceAccountName": name}
    return flow({**GOOD, "template": {"spec": {"template": {"spec": pod}}}})


def authorizer(policy: Policy, clock: Clock | None = None) -> tuple[FlowAuthorizer, FakeSAR]:
    fake = FakeSAR(policy)
    return (
        FlowAuthorizer(Rest(fake), protected_namespaces=["zenflow-system"], clock=clock or Clock()),
        fake,
    )


def deadline(seconds: float = 5.0) -> float:
    return asyncio.get_running_loop().time() + seconds


async def test_allowed_author_passes_and_sar_carries_the_requester() -> None:
    auth, fake = authorizer(lambda spec: True)
    outcome = allowed_review(flow(GOOD))
    assert await auth.check(outcome, deadline=deadline()) is outcome
    assert fake.specs == [
        {
            "user": "alice",
            "groups": ["devs", "system:authenticated"],
            "uid": "u-7",
            "extra": {"scopes": ["x"]},
            "resourceAttributes": {
                "namespace": "ns",
                "verb": "create",
                "group": "batch",
                "resource": "jobs",
            },
        }
    ]


async def test_every_missing_permission_is_named() -> None:
    obj = with_sa("deployer")
    obj["spec"]["resourceTemplates"] = {"configMapTemplates": [{"metadata": {"name": "c"}}]}
    auth, _ = authorizer(lambda spec: spec["resourceAttributes"]["resource"] == "configmaps")
    out = await auth.check(replace(allowed_review(obj), warnings=("w",)), deadline=deadline())
    assert out.result == "forbidden"
    response = out.body["response"]
    assert (response["uid"], response["allowed"], response["warnings"]) == (
        "1234-abcd",
        False,
        ["w"],
    )
    status = response["status"]
    assert (status["code"], status["reason"]) == (403, "Forbidden")
    assert status["message"] == (
        'JobFlow "f" is forbidden: '
        "user 'alice' may not create jobs.batch in namespace 'ns' (the flow's steps run as "
        "Jobs); a flow can only do what its author may do directly; "
        "user 'alice' may not impersonate serviceaccounts \"deployer\" or create "
        "serviceaccounts/token \"deployer\" in namespace 'ns' "
        "(spec.steps[0].template.spec.template.spec.serviceAccountName runs the step's Pods as "
        "that ServiceAccount); a flow can only do what its author may do directly"
    )
    assert len(out.messages) == 2


@pytest.mark.parametrize("allowed_verb", ["impersonate", "create"])
async def test_either_service_account_alternative_is_enough(allowed_verb: str) -> None:
    def policy(spec: dict[str, Any]) -> bool:
        attrs = spec["resourceAttributes"]
        if attrs["resource"] == "serviceaccounts":
            return bool(attrs["verb"] == allowed_verb and attrs["name"] == "deployer")
        return True

    auth, fake = authorizer(policy)
    outcome = allowed_review(with_sa("deployer"))
    assert await auth.check(outcome, deadline=deadline()) is outcome
    token = [
        s["resourceAttributes"] for s in fake.specs if s["resourceAttributes"]["verb"] == "create"
    ]
    assert {"namespace": "ns", "verb": "create", "group": "", "resource": "serviceaccounts",
            "subresource": "token", "name": "deployer"} in token  # fmt: skip


async def test_controller_namespace_and_run_time_names_are_refused_without_asking() -> None:
    auth, fake = authorizer(lambda spec: True)
    out = await auth.check(
        allowed_review(flow(GOOD), namespace="zenflow-system"), deadline=deadline()
    )
    assert out.result == "forbidden"
    assert "'zenflow-system' is the zenflow controller's own namespace" in out.messages[0]
    out = await auth.check(allowed_review(with_sa("{{ steps.a.outputs.sa }}")), deadline=deadline())
    assert out.result == "forbidden"
    assert "known only when the flow runs" in out.messages[0]
    assert fake.specs == []


async def test_unanswerable_review_fails_closed() -> None:
    auth, _ = authorizer(lambda spec: 403)
    out = await auth.check(allowed_review(flow(GOOD)), deadline=deadline())
    assert out.result == "forbidden"
    assert out.messages[0].startswith(
        "could not check the author's permissions (SubjectAccessReview): "
    )
    assert "403" in out.messages[0]


async def test_deadline_fails_closed() -> None:
    class Hanging(FakeSAR):
        async def send(self, request: Request) -> Reply:
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

    auth = FlowAuthorizer(Rest(Hanging(lambda s: True)), protected_namespaces=[])
    out = await auth.check(allowed_review(flow(GOOD)), deadline=deadline(0.05))
    assert out.result == "forbidden"
    assert "the time budget ran out" in out.messages[0]


async def test_allowed_answers_are_cached_for_the_ttl_denied_never() -> None:
    clock = Clock()
    answers = {"value": True}
    auth, fake = authorizer(lambda spec: answers["value"], clock)
    outcome = allowed_review(flow(GOOD))
    await auth.check(outcome, deadline=deadline())
    await auth.check(outcome, deadline=deadline())
    assert len(fake.specs) == 1
    clock.now += 11
    answers["value"] = False
    assert (await auth.check(outcome, deadline=deadline())).result == "forbidden"
    assert (await auth.check(outcome, deadline=deadline())).result == "forbidden"
    assert len(fake.specs) == 3


async def test_other_outcomes_pass_untouched() -> None:
    auth, fake = authorizer(lambda spec: False)
    denied = handle_review(review(flow({"name": "x"})), validate=fake_validate)
    assert await auth.check(denied, deadline=deadline()) is denied
    new = flow(GOOD, phase="Running", annotations={"workflow.zen.io/cancel": "true"})
    metadata_only = handle_review(
        review(new, operation="UPDATE", old=flow(GOOD, phase="Running")), validate=fake_validate
    )
    assert await auth.check(metadata_only, deadline=deadline()) is metadata_only
    assert fake.specs == []
