"""Notifications delivered to a local HTTP receiver (127.0.0.1) by a real controller on the
real control plane.

Aspects:
- through a controller SIGKILL and restart, every event (a gate Waiting, a step Failed, the flow
  Failed, a flow Succeeded told through the controller-wide default from a ConfigMap, a Slack
  body) arrives exactly once when the receiver answers 200: the delivery records in status keep
  the restarted controller from sending any again;
- a delivery in flight when the controller is killed is sent again after the restart, with the
  same CloudEvent id (at least once; the id is what a receiver dedupes on);
- a receiver answering 500 gets the same event again with backoff until it answers 200 (the
  record counts the attempts); one that always answers 500 gets exactly 1 + retry.limit
  attempts and the record says Failed with the reason; a missing Secret is recorded Failed
  naming the Secret, and nothing is sent.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from kubernetes_asyncio import client

from tests.controller.notifications.receiver import Receiver
from tests.support.controller_process import ControllerProcess, controller_args
from tests.support.jobflows import Running, jobflow, running_controller, step
from tests.support.wait import eventually
from zenflow.envtest import ControlPlane
from zenflow.kube.client import new_api_client

SECRET = "hooks"
SUCCEEDED = "io.zen.workflow.jobflow.succeeded"
FAILED = "io.zen.workflow.jobflow.failed"
WAITING = "io.zen.workflow.jobflow.step.waiting"
STEP_FAILED = "io.zen.workflow.jobflow.step.failed"
ALL = ["Succeeded", "Failed", "Waiting", "StepFailed"]


def sink(kind: str, key: str) -> dict[str, Any]:
    return {kind: {"urlFrom": {"secretKeyRef": {"name": SECRET, "key": key}}}}


def notification(name: str, events: list[str], kind: str = "webhook", key: str = "hook",
                 **extra: Any) -> dict[str, Any]:  # fmt: skip
    return {"name": name, "events": events, **sink(kind, key), **extra}


@pytest_asyncio.fixture(loop_scope="session")
async def receiver() -> AsyncIterator[Receiver]:
    hook = Receiver()
    await hook.start()
    try:
        yield hook
    finally:
        await asyncio.wait_for(hook.stop(), 10)


@pytest_asyncio.fixture(loop_scope="session")
async def zf(kube_config: client.Configuration, namespace: str) -> AsyncIterator[Running]:
    """An admin client for the test's own requests (no controller: each test picks one)."""
    api = new_api_client(kube_config)
    try:
        yield Running(manager=None, jobflow=None, api=api, namespace=namespace)  # type: ignore[arg-type]
    finally:
        await api.close()


async def secret(zf: Running, urls: dict[str, str]) -> None:
    data = {k: base64.b64encode(v.encode()).decode() for k, v in urls.items()}
    await zf.core.create_namespaced_secret(
        zf.namespace, client.V1Secret(metadata=client.V1ObjectMeta(name=SECRET), data=data)
    )


def records(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["key"]: r for r in (obj.get("status") or {}).get("notifications") or []}


async def recorded(
    zf: Running, name: str, keys: set[str], *, within: float = 60.0
) -> dict[str, Any]:
    """The flow once its status records every key in ``keys``."""

    async def check() -> dict[str, Any] | None:
        obj = await zf.get(name)
        return obj if keys <= set(records(obj)) else None

    found: dict[str, Any] = await eventually(
        check, what=f"{name} records {sorted(keys)}", within=within
    )
    return found


@pytest.fixture
def controller(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> Iterator[ControllerProcess]:
    args = controller_args(
        kubeconfig=control_plane.kubeconfig_path, namespace=namespace, lease=None
    )
    proc = ControllerProcess("ctl", [*args, "--notifications-configmap", f"{namespace}/defaults"],
                             log_path=tmp_path / "ctl.log")  # fmt: skip
    try:
        yield proc
    finally:
        proc.close()


async def test_exactly_once_through_a_sigkill(
    zf: Running, receiver: Receiver, controller: ControllerProcess
) -> None:
    await secret(zf, {"hook": receiver.url("events"), "slack": receiver.url("slack")})
    defaults = [notification("default", ["Succeeded"])]
    await zf.core.create_namespaced_config_map(
        zf.namespace,
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="defaults"),
            data={"notifications": json.dumps(defaults)},
        ),
    )

    gated = jobflow(
        "gated",
        [step("a"), {"name": "gate", "type": "Manual", "dependencies": ["a"]},
         step("bad", "gate", exit_code=1)],
        notifications=[
            notification("hook", ALL),
            notification("chat", ["Failed"], "slack", "slack"),
        ],
    )  # fmt: skip
    await zf.create(gated)
    await zf.create(jobflow("plain", [step("only")]))  # no notifications: the default applies
    controller.start()
    await recorded(zf, "gated", {"hook/Waiting/gate"})
    await recorded(zf, "plain", {"default/Succeeded"})

    controller.kill()
    controller.start()
    await zf.patch("gated", {"metadata": {"annotations": {"workflow.zen.io/approve": "gate"}}})
    done = await recorded(zf, "gated", {"hook/StepFailed/bad", "hook/Failed", "chat/Failed"})
    assert done["status"]["phase"] == "Failed"
    assert {r["state"] for r in records(done).values()} == {"Delivered"}

    assert receiver.events() == {
        (WAITING, "gate"): 1,
        (STEP_FAILED, "bad"): 1,
        (FAILED, "gated"): 1,
        (SUCCEEDED, "plain"): 1,
        ("slack", 'JobFlow ' + zf.namespace + '/gated failed: StepFailed: step "bad" failed: '
         "BackoffLimitExceeded: Job has reached the specified backoff limit"): 1,
    }  # fmt: skip
    assert set(receiver.ids().values()) == {1}
    assert controller.starts == 2


async def test_in_flight_delivery_is_sent_again_with_the_same_id(
    zf: Running, receiver: Receiver, controller: ControllerProcess
) -> None:
    await secret(zf, {"hook": receiver.url("events")})
    receiver.hold = (SUCCEEDED, "held")
    await zf.create(jobflow("held", [step("only")], notifications=[notification("hook", ALL)]))
    controller.start()
    await asyncio.wait_for(receiver.held.wait(), 60)
    controller.kill()  # the receiver got the event; the controller never saw the answer
    receiver.release.set()
    controller.start()
    done = await recorded(zf, "held", {"hook/Succeeded"})
    assert records(done)["hook/Succeeded"]["state"] == "Delivered"
    (event_id,) = receiver.ids()
    assert receiver.ids() == {event_id: 2}
    assert receiver.events() == {(SUCCEEDED, "held"): 2}


async def test_refused_deliveries_are_retried_then_given_up(
    kube_config: client.Configuration, zf: Running, receiver: Receiver
) -> None:
    await secret(zf, {"hook": receiver.url("events")})
    fast = {"type": "Fixed", "duration": "200ms"}
    receiver.failures[(SUCCEEDED, "flaky")] = 2
    receiver.failures[(SUCCEEDED, "down")] = 100
    flaky = [notification("hook", ["Succeeded"], retry={"limit": 3, "backoff": fast})]
    down = [notification("hook", ["Succeeded"], retry={"limit": 1, "backoff": fast})]
    absent = {"urlFrom": {"secretKeyRef": {"name": "absent", "key": "url"}}}
    missing = [{"name": "hook", "events": ["Succeeded"], "retry": {"limit": 0}, "webhook": absent}]
    async with running_controller(kube_config, zf.namespace):
        await zf.create(jobflow("flaky", [step("only")], notifications=flaky))
        await zf.create(jobflow("down", [step("only")], notifications=down))
        await zf.create(jobflow("missing", [step("only")], notifications=missing))
        got = {
            name: records(await recorded(zf, name, {"hook/Succeeded"}))["hook/Succeeded"]
            for name in ("flaky", "down", "missing")
        }
    assert (got["flaky"]["state"], got["flaky"]["attempts"]) == ("Delivered", 3)
    assert (got["down"]["state"], got["down"]["attempts"], got["down"]["message"]) == (
        "Failed", 2, "HTTP 500",
    )  # fmt: skip
    assert (got["missing"]["state"], got["missing"]["message"]) == (
        "Failed", f"Secret {zf.namespace}/absent not found",
    )  # fmt: skip
    assert receiver.events() == {(SUCCEEDED, "flaky"): 3, (SUCCEEDED, "down"): 2}
    assert len(receiver.ids()) == 2  # each flow's retries carried one id
