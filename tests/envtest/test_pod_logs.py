"""``kubectl logs`` on the real local control plane: the API server proxies ``pods/log`` to the
node agent's log API (TLS both ways) at the address and port the Node reports.

Aspects: the Node names the log API's port; ``kubectl logs`` of an exec-mode pod returns its
stdout and stderr; ``-f`` streams a line as soon as it is written (the command waits on a gate
file before writing the next) and ends when the container exits; ``--tail`` and
``--timestamps``; ``--previous`` without a restart gets the kubelet's message; ``kubectl logs
job/NAME``; an annotation-driven pod logs what its annotation says.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from kubernetes_asyncio import client

from tests.envtest.kubejson import (
    Obj,
    condition,
    create_job,
    create_pod,
    get_job,
    get_pod,
    job_manifest,
    ok,
)
from tests.support.wait import eventually
from zenflow.envtest import ControlPlane
from zenflow.envtest.nodeagent.spec import ANNOTATION_EXIT_CODE, ANNOTATION_LOG

pytestmark = pytest.mark.integration

NODE = "zenflow-local"
STAMPED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (.*)$")


def _pod(name: str, command: list[str], *, annotations: dict[str, str] | None = None) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "busybox", "command": command}],
        },
    }


async def _state(api: client.ApiClient, namespace: str, name: str) -> dict[str, object]:
    pod = await get_pod(api, namespace, name)
    statuses = ((pod or {}).get("status") or {}).get("containerStatuses") or [{}]
    state: dict[str, object] = statuses[0].get("state") or {}
    return state


async def test_the_node_names_its_log_port(api_client: client.ApiClient) -> None:
    node = await ok(api_client, "GET", f"/api/v1/nodes/{NODE}")
    assert node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] > 0
    assert {"type": "InternalIP", "address": "127.0.0.1"} in node["status"]["addresses"]


async def test_kubectl_logs_follows_an_exec_pod(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    script = f"echo one; echo oops >&2; while [ ! -e {gate} ]; do sleep 0.05; done; echo two"
    await create_pod(api_client, namespace, _pod("talker", ["sh", "-c", script]))

    async def running() -> bool:
        return "running" in await _state(api_client, namespace, "talker")

    await eventually(running, what="talker running")
    kubectl = [
        str(control_plane.binaries.kubectl),
        "--kubeconfig",
        str(control_plane.kubeconfig_path),
    ]
    follow = await asyncio.create_subprocess_exec(
        *kubectl, "logs", "-f", "-n", namespace, "pod/talker",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert follow.stdout is not None
    try:
        first = [await asyncio.wait_for(follow.stdout.readline(), 30) for _ in range(2)]
        assert sorted(first) == [b"one\n", b"oops\n"]
        # The command waits on the gate: the stream is open, nothing more has come.
        assert follow.returncode is None
        gate.touch()
        assert await asyncio.wait_for(follow.stdout.readline(), 30) == b"two\n"
        assert await asyncio.wait_for(follow.wait(), 30) == 0
    finally:
        if follow.returncode is None:
            follow.kill()
            await follow.wait()

    async def done() -> bool:
        return "terminated" in await _state(api_client, namespace, "talker")

    await eventually(done, what="talker terminated")
    whole = control_plane.kubectl("logs", "-n", namespace, "talker").stdout
    assert sorted(whole.splitlines()) == ["one", "oops", "two"]
    assert control_plane.kubectl("logs", "-n", namespace, "talker", "--tail=1").stdout == "two\n"
    stamped = control_plane.kubectl("logs", "-n", namespace, "talker", "--timestamps").stdout
    assert sorted(m.group(1) for line in stamped.splitlines() if (m := STAMPED.match(line))) == [
        "one",
        "oops",
        "two",
    ]
    previous = control_plane.kubectl("logs", "-n", namespace, "talker", "--previous", check=False)
    assert previous.returncode == 1
    assert 'previous terminated container "main" in pod "talker" not found' in previous.stderr


async def test_kubectl_logs_of_a_job(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str
) -> None:
    await create_job(api_client, namespace, job_manifest("hello", ["echo", "hello from a job"]))

    async def complete() -> Obj | None:
        return condition(await get_job(api_client, namespace, "hello"), "Complete")

    await eventually(complete, what="job hello Complete")
    out = control_plane.kubectl("logs", "-n", namespace, "job/hello").stdout
    assert out == "hello from a job\n"


async def test_an_annotated_pod_logs_its_annotation(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str
) -> None:
    annotations = {ANNOTATION_EXIT_CODE: "0", ANNOTATION_LOG: "as the annotation says\n"}
    await create_pod(api_client, namespace, _pod("quiet", ["false"], annotations=annotations))

    async def done() -> bool:
        return "terminated" in await _state(api_client, namespace, "quiet")

    await eventually(done, what="quiet terminated")
    out = control_plane.kubectl("logs", "-n", namespace, "quiet").stdout
    assert out == "as the annotation says\n"
