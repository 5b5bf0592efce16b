"""The SDK's clients against the real control plane, with the JobFlow controller running.

Aspects: each example, built in Python, runs to Succeeded through the sync ``FlowClient``
(which runs the async client on its own loop thread) with the results the flow promises
(outputs, a fallback taken, matrix shards, a `when` following a param value); the async client
reports progress once per visible change, ending in the finished state; it approves a gate;
an invalid flow is refused before anything is sent; ``wait`` gives up with the last phase seen;
a missing flow is a ``NotFoundError``."""

from __future__ import annotations

import asyncio
import io

import pytest

from tests.sdk.examples import build
from tests.support.jobflows import Running
from zenflow.envtest import ControlPlane
from zenflow.errors import NotFoundError
from zenflow.sdk import (
    AsyncFlowClient,
    Flow,
    FlowClient,
    FlowInvalidError,
    FlowRun,
    WaitTimeoutError,
)

RUN_TIMEOUT_S = 90.0


def _run_examples(plane: ControlPlane, namespace: str) -> dict[str, FlowRun]:
    """Runs in a thread: the sync client blocks, the controller runs on the test's loop."""
    out = io.StringIO()
    with FlowClient(kubeconfig=str(plane.kubeconfig_path), namespace=namespace) as zf:
        runs = {
            "fallback_finally": zf.run(build("fallback_finally"), timeout=RUN_TIMEOUT_S),
            "matrix_from_output": zf.run(build("matrix_from_output"), timeout=RUN_TIMEOUT_S),
            "params": zf.run(build("params"), params={"mode": "stream"}, timeout=RUN_TIMEOUT_S),
            "python_tasks": zf.run(build("python_tasks"), timeout=RUN_TIMEOUT_S, show=out),
        }
        runs["results"] = zf.results("python-tasks")
    assert "summarize" in out.getvalue()  # the live view wrote the step table as a log
    return runs


async def test_examples_run_to_succeeded(control_plane: ControlPlane, zf: Running) -> None:
    runs = await asyncio.to_thread(_run_examples, control_plane, zf.namespace)
    for name, run in runs.items():
        assert run.phase == "Succeeded", (name, run.message, run.steps)

    fallback = runs["fallback_finally"]
    assert {n: s.phase for n, s in fallback.steps.items()} == {
        "main-process": "Failed",
        "fallback": "Succeeded",
        "report": "Succeeded",
        "cleanup": "Succeeded",
    }
    matrix = runs["matrix_from_output"]
    assert matrix.outputs("split") == {"partitions": '["p1", "p2", "p3"]'}
    shards = matrix.raw["status"]["steps"][1]["shards"]
    assert [s["phase"] for s in shards] == ["Succeeded"] * 3
    assert runs["params"].step("stream-only").phase == "Succeeded"
    tasks = runs["results"]
    assert tasks.outputs("generate") == {"numbers": "[1, 2, 3, 4]", "total": "10"}
    assert tasks.outputs("summarize") == {"mean": "2.5"}


async def test_async_client_progress_approval_and_refusals(
    control_plane: ControlPlane, zf: Running
) -> None:
    flow = Flow("gated")
    first = flow.step("first", image="busybox", command=["true"])
    gate = flow.gate("ship", message="ship it?", after=[first])
    flow.step("deploy", image="busybox", command=["echo", "deployed"], after=[gate])

    client = await AsyncFlowClient.connect(
        kubeconfig=str(control_plane.kubeconfig_path), namespace=zf.namespace
    )
    async with client:
        created = await client.submit(flow)
        assert (created.name, created.namespace, created.phase) == (
            "gated",
            zf.namespace,
            "Pending",
        )
        seen: list[FlowRun] = []
        waiting = await client.wait_for(
            "gated",
            lambda run: "ship" in run.steps and run.step("ship").phase == "Waiting",
            timeout=RUN_TIMEOUT_S,
            interval=0.1,
            on_progress=seen.append,
            what="the gate waiting",
        )
        assert waiting.step("first").phase == "Succeeded"
        with pytest.raises(
            WaitTimeoutError,
            match=r"'gated': a finished phase not reached .*"
            r"\(last phase Running\)",
        ):
            await client.wait("gated", timeout=0.5, interval=0.1)

        await client.approve("gated", "ship")
        after: list[FlowRun] = []
        done = await client.wait(
            "gated", timeout=RUN_TIMEOUT_S, interval=0.1, on_progress=after.append
        )
        assert done.succeeded
        assert done.step("ship").reason == "Approved"
        for calls in (seen, after):
            prints = [run.fingerprint() for run in calls]
            assert len(prints) == len(set(prints)), "a progress callback repeated a state"
        assert seen[-1].step("ship").phase == "Waiting"
        assert after[-1] == done

        broken = Flow("broken")
        broken.step("a", image="busybox", command=["true"], after=["missing"])
        with pytest.raises(
            FlowInvalidError, match=r'spec.steps\[0\].dependencies\[0\]: .*"missing"'
        ):
            await client.submit(broken)
        with pytest.raises(NotFoundError, match="broken"):
            await client.get("broken")
