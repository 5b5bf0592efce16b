"""Flows that use templates, judged with them where the reviews run (zenflow.webhook.templatejudge).

Aspects: ``judge`` admits a flow whose template fits and adds to the author's access what the
template brings (its ServiceAccount); refuses a flow whose template was not found, naming the
referring field; passes a review that was not admitted through. ``ProcessReviews`` answers in a
worker process what ``judge`` answers here, without validating anything in the server's own
process; past its deadline the judgement is a ``timeout`` refusal of the review.
``ThreadReviews`` answers the same as ``judge``.
"""

from __future__ import annotations

import asyncio
from typing import Any, NoReturn

import pytest

from tests.webhook.hostile import review_of
from zenflow.core.validation.validator import validate_object
from zenflow.webhook import templatejudge
from zenflow.webhook.admission import Outcome, handle_review
from zenflow.webhook.inline import ThreadReviews
from zenflow.webhook.pool import LaneSettings, PoolSettings, ProcessReviews
from zenflow.webhook.templatejudge import Found, judge

TEMPLATE: dict[str, Any] = {
    "apiVersion": "workflow.zen.io/v1alpha1",
    "kind": "JobFlowTemplate",
    "metadata": {"name": "build", "namespace": "ns"},
    "spec": {
        "steps": [
            {
                "name": "compile",
                "template": {
                    "spec": {
                        "template": {
                            "spec": {
                                "serviceAccountName": "builder",
                                "restartPolicy": "Never",
                                "containers": [
                                    {"name": "main", "image": "busybox", "command": ["true"]}
                                ],
                            }
                        }
                    }
                },
            }
        ]
    },
}
FLOW: dict[str, Any] = {
    "apiVersion": "workflow.zen.io/v1alpha1",
    "kind": "JobFlow",
    "metadata": {"name": "uses-build"},
    "spec": {"steps": [{"name": "build", "templateRef": {"name": "build"}}]},
}
KEY = ("JobFlowTemplate", "ns", "build")


def reviewed(obj: dict[str, Any] = FLOW, uid: str = "t-1") -> Outcome:
    outcome = handle_review(review_of(obj, uid=uid), validate=validate_object)
    assert outcome.result == "allowed"
    assert outcome.templates is not None
    assert {n.key for n in outcome.templates.needed} == {KEY}
    return outcome


def found() -> Found:
    return {KEY: TEMPLATE}


def deadline(seconds: float) -> float:
    return asyncio.get_running_loop().time() + seconds


def test_a_fitting_template_is_admitted_with_the_access_it_brings() -> None:
    before = reviewed()
    out = judge(before, found())
    assert out.result == "allowed"
    assert out.access is not None
    assert before.access is not None
    added = out.access.requirements[len(before.access.requirements) :]
    assert any("builder" in r.describe() for r in added)


def test_a_missing_template_is_refused_naming_the_reference() -> None:
    out = judge(reviewed(), {})
    assert out.result == "denied"
    status = out.body["response"]["status"]
    assert status["code"] == 422
    assert "spec.steps[0].templateRef" in status["message"]
    assert "build" in status["message"]


def test_a_review_that_was_not_admitted_passes_through() -> None:
    refused = handle_review(review_of({**FLOW, "spec": {}}, uid="bad"), validate=validate_object)
    assert refused.result == "denied"
    assert judge(refused, found()) is refused


def _not_here(*_args: object, **_kwargs: object) -> NoReturn:
    raise AssertionError("the resolved flow was validated in the server's own process")


async def test_worker_processes_judge_as_judge_does_and_refuse_past_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outcome = reviewed()
    expected = judge(outcome, found())
    # From here on, validating a resolved flow in this process fails: the pool's workers, fresh
    # processes, have the real validator.
    monkeypatch.setattr(templatejudge, "validate_resolved", _not_here)
    settings = PoolSettings(
        fast=LaneSettings(workers=1, max_waiting=2, slice=0.05),
        slow=LaneSettings(workers=1, max_waiting=0),
    )
    pool = ProcessReviews(settings)
    await pool.start()
    try:
        with pool.reserve(large=False) as place:
            out = await pool.judge_templates(place, outcome, found(), deadline=deadline(10))
        assert out == expected
        with pool.reserve(large=False) as place:
            missing = await pool.judge_templates(place, outcome, {}, deadline=deadline(10))
        assert missing.result == "denied"
        with pool.reserve(large=False) as place:
            late = await pool.judge_templates(place, outcome, found(), deadline=deadline(0))
    finally:
        await pool.stop()
    assert late.result == "timeout"
    response = late.body["response"]
    assert (response["uid"], response["allowed"], response["status"]["code"]) == (
        "t-1",
        False,
        504,
    )
    assert "with its templates" in response["status"]["message"]


async def test_thread_reviews_judge_as_judge_does() -> None:
    reviews = ThreadReviews(validate_object, workers=1)
    outcome = reviewed()
    try:
        with reviews.reserve(large=False) as place:
            out = await reviews.judge_templates(place, outcome, found(), deadline=deadline(10))
    finally:
        await reviews.stop()
    assert out == judge(outcome, found())
