"""The sinks' requests and one POST against a real local receiver.

Aspects: the webhook body is a structured-mode CloudEvent 1.0 (the ``cloudevents`` SDK reads it
back with the notice's id, type, source, subject, time and data); the Slack body is
``{"text": …}``; a 2xx is delivered, a 500 and an unanswered request are failures with a reason
that never contains the URL, a refused connection too."""

from __future__ import annotations

import asyncio
import json
import socket

import aiohttp
from cloudevents.core.bindings.http import HTTPMessage, from_structured
from cloudevents.core.formats.json import JSONFormat

from tests.controller.notifications.receiver import Receiver
from zenflow.api.jobflow import JobFlow
from zenflow.controller.notifications.sinks import cloudevent_request, post, slack_request
from zenflow.core.notifications import Notice, due_notices

SECRET_PATH = "hooks/T000/B000/secret-token"


def notice(sink: str) -> Notice:
    flow = JobFlow.model_validate(
        {
            "metadata": {"name": "f", "namespace": "ns", "uid": "u"},
            "spec": {
                "steps": [{"name": "a", "run": {"image": "x"}}],
                "notifications": [
                    {
                        "name": "n",
                        "events": ["StepFailed"],
                        sink: {"urlFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
                    }
                ],
            },
            "status": {
                "phase": "Running",
                "startTime": "2026-01-01T00:00:00Z",
                "steps": [
                    {
                        "name": "a",
                        "phase": "Failed",
                        "reason": "BackoffLimitExceeded",
                        "completionTime": "2026-01-01T00:01:00Z",
                    }
                ],
            },
        }
    )
    (only,) = due_notices(flow=flow)
    return only


def test_cloudevent_request_is_structured_cloudevent() -> None:
    n = notice("webhook")
    headers, body = cloudevent_request(n)
    assert headers == {"content-type": "application/cloudevents+json"}
    event = from_structured(HTTPMessage(headers=headers, body=body), JSONFormat())
    attrs = event.get_attributes()
    assert attrs["id"] == n.id
    assert attrs["type"] == "io.zen.workflow.jobflow.step.failed"
    assert attrs["source"] == "/apis/workflow.zen.io/v1alpha1/namespaces/ns/jobflows/f"
    assert attrs["subject"] == "a"
    assert attrs["specversion"] == "1.0"
    assert json.loads(body)["time"].startswith("2026-01-01T00:01:00")
    assert event.get_data() == {
        "event": "StepFailed",
        "flow": "f",
        "namespace": "ns",
        "uid": "u",
        "phase": "Running",
        "step": {
            "name": "a",
            "phase": "Failed",
            "reason": "BackoffLimitExceeded",
            "completionTime": "2026-01-01T00:01:00Z",
        },
    }


def test_slack_request_is_a_text_body() -> None:
    headers, body = slack_request(notice("slack"))
    assert headers == {"content-type": "application/json"}
    assert json.loads(body) == {"text": "JobFlow ns/f: step a failed (BackoffLimitExceeded)"}


async def test_post_outcomes_never_show_the_url() -> None:
    receiver = Receiver()
    await receiver.start()
    n = notice("webhook")
    headers, body = cloudevent_request(n)
    try:
        async with aiohttp.ClientSession() as session:
            url = receiver.url(SECRET_PATH)
            ok = await post(session, url, headers=headers, body=body, seconds=5)
            assert (ok.ok, ok.status) == (True, 200)
            receiver.failures[("io.zen.workflow.jobflow.step.failed", "a")] = 1
            refused = await post(session, url, headers=headers, body=body, seconds=5)
            assert (refused.ok, refused.status, refused.error) == (False, 500, "HTTP 500")
            receiver.hold = ("io.zen.workflow.jobflow.step.failed", "a")
            slow = await post(session, url, headers=headers, body=body, seconds=0.3)
            assert (slow.ok, slow.error) == (False, "no answer within 0.3s")
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                closed = f"http://127.0.0.1:{sock.getsockname()[1]}/{SECRET_PATH}"
            down = await post(session, closed, headers=headers, body=body, seconds=5)
            assert not down.ok
            assert down.error is not None
            assert down.error.startswith("request failed: ")
            for outcome in (refused, slow, down):
                assert "secret-token" not in str(outcome)
        assert [r.path for r in receiver.received] == [f"/{SECRET_PATH}"] * 3
        assert receiver.held.is_set()
    finally:
        await asyncio.wait_for(receiver.stop(), 10)
