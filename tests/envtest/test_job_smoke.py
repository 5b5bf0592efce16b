"""Job smoke tests on the real local control plane, pods run by the local node agent.

Every Job condition asserted here is written by the real Job controller of
kube-controller-manager, reacting to the pod status the node agent writes.

Aspects: the local node is Ready with a Lease; a Job exiting 0 becomes Complete; one exiting 3
with backoffLimit 0 becomes Failed (BackoffLimitExceeded) with exit code 3 in its pod status;
a termination message written by the command (to /dev/termination-log or
$ZENFLOW_TERMINATION_LOG) reaches the pod status; the pod's env (value, fieldRef, configMapKeyRef)
reaches the process; annotation-driven pods end with the given exit code and message; deleting a
pod SIGTERMs its process and the pod disappears; restartPolicy OnFailure restarts the container
(restartCount, lastState) until it succeeds; a Job's activeDeadlineSeconds terminates its running
pod and fails the Job with DeadlineExceeded; a pod's own activeDeadlineSeconds fails the pod;
init containers run first and a sidecar is stopped when the Job's container is done; an
OnFailure Job exhausting its backoffLimit fails and its pod is stopped and deleted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    job_pods,
    ok,
    request,
)
from tests.support.wait import eventually
from zenflow.envtest.nodeagent.spec import (
    ANNOTATION_DURATION_SECONDS,
    ANNOTATION_EXIT_CODE,
    ANNOTATION_TERMINATION_MESSAGE,
)

pytestmark = pytest.mark.integration

NODE = "zenflow-local"


async def _job_condition(api: client.ApiClient, namespace: str, name: str, kind: str) -> Obj:
    async def probe() -> Obj | None:
        return condition(await get_job(api, namespace, name), kind)

    return await eventually(probe, what=f"job {name} condition {kind}", interval=0.05)


async def _only_pod(api: client.ApiClient, namespace: str, job: str) -> Obj:
    pods = await job_pods(api, namespace, job)
    assert len(pods) == 1, [p["metadata"]["name"] for p in pods]
    return pods[0]


def _terminated(pod: Obj) -> dict[str, Any]:
    (status,) = pod["status"]["containerStatuses"]
    terminated: dict[str, Any] = status["state"]["terminated"]
    return terminated


def _alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie (an exited, unreaped orphan)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _read_pid(path: Path) -> int:
    text = path.read_text().strip() if path.exists() else ""
    return int(text) if text else 0


async def _pid_from(path: Path) -> int:
    async def probe() -> int:
        return _read_pid(path)

    return await eventually(probe, what=f"pid file {path}", interval=0.05)


async def test_node_is_ready_with_lease(api_client: client.ApiClient) -> None:
    node = await ok(api_client, "GET", f"/api/v1/nodes/{NODE}")
    assert condition(node, "Ready") is not None
    assert node["status"]["addresses"][0] == {"type": "InternalIP", "address": "127.0.0.1"}
    assert {"cpu", "memory", "pods"} <= set(node["status"]["allocatable"])
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("zenflow-nodeagent://")
    lease = await ok(
        api_client, "GET", f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{NODE}"
    )
    assert lease["spec"]["holderIdentity"] == NODE


async def test_job_exiting_zero_completes(api_client: client.ApiClient, namespace: str) -> None:
    await create_job(api_client, namespace, job_manifest("ok", ["sh", "-c", "echo hello"]))
    await _job_condition(api_client, namespace, "ok", "Complete")
    pod = await _only_pod(api_client, namespace, "ok")
    assert pod["spec"]["nodeName"] == NODE
    assert pod["status"]["phase"] == "Succeeded"
    assert pod["status"]["podIP"] == "127.0.0.1"
    assert condition(pod, "PodScheduled") is not None
    terminated = _terminated(pod)
    assert (terminated["exitCode"], terminated["reason"]) == (0, "Completed")
    assert terminated["startedAt"] <= terminated["finishedAt"]


async def test_job_exiting_three_fails_with_backoff_limit(
    api_client: client.ApiClient, namespace: str
) -> None:
    await create_job(api_client, namespace, job_manifest("bad", ["sh", "-c", "exit 3"]))
    failed = await _job_condition(api_client, namespace, "bad", "Failed")
    assert failed["reason"] == "BackoffLimitExceeded"
    pod = await _only_pod(api_client, namespace, "bad")
    assert pod["status"]["phase"] == "Failed"
    terminated = _terminated(pod)
    assert (terminated["exitCode"], terminated["reason"]) == (3, "Error")


@pytest.mark.parametrize(
    "script",
    [
        pytest.param("""echo '{"x":1}' > /dev/termination-log""", id="termination-log-path"),
        pytest.param("""echo '{"x":1}' > "$ZENFLOW_TERMINATION_LOG" """, id="env-var"),
    ],
)
async def test_termination_message_reaches_pod_status(
    api_client: client.ApiClient, namespace: str, script: str
) -> None:
    await create_job(api_client, namespace, job_manifest("msg", ["sh", "-c", script]))
    await _job_condition(api_client, namespace, "msg", "Complete")
    pod = await _only_pod(api_client, namespace, "msg")
    assert _terminated(pod)["message"] == '{"x":1}\n'


async def test_env_reaches_the_process(api_client: client.ApiClient, namespace: str) -> None:
    await ok(
        api_client,
        "POST",
        f"/api/v1/namespaces/{namespace}/configmaps",
        {"metadata": {"name": "settings"}, "data": {"color": "blue"}},
    )
    job = job_manifest(
        "env", ["sh", "-c", 'echo "$GREETING/$POD_NS/$COLOR" > /dev/termination-log']
    )
    job["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": "WHO", "value": "world"},
        {"name": "GREETING", "value": "hello-$(WHO)"},
        {"name": "POD_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {
            "name": "COLOR",
            "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "color"}},
        },
    ]
    await create_job(api_client, namespace, job)
    await _job_condition(api_client, namespace, "env", "Complete")
    pod = await _only_pod(api_client, namespace, "env")
    assert _terminated(pod)["message"] == f"hello-world/{namespace}/blue\n"


@pytest.mark.parametrize(
    ("code", "job_condition"),
    [pytest.param("0", "Complete", id="exit-0"), pytest.param("7", "Failed", id="exit-7")],
)
async def test_annotations_drive_the_pod(
    api_client: client.ApiClient, namespace: str, code: str, job_condition: str
) -> None:
    annotations = {
        ANNOTATION_EXIT_CODE: code,
        ANNOTATION_DURATION_SECONDS: "0.3",
        ANNOTATION_TERMINATION_MESSAGE: "from-annotation",
    }
    # The command would fail: annotation-driven pods run nothing.
    job = job_manifest("annotated", ["false"], annotations=annotations)
    await create_job(api_client, namespace, job)
    await _job_condition(api_client, namespace, "annotated", job_condition)
    pod = await _only_pod(api_client, namespace, "annotated")
    terminated = _terminated(pod)
    assert terminated["exitCode"] == int(code)
    assert terminated["message"] == "from-annotation"


async def test_pod_deletion_terminates_its_process(
    api_client: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    pid_file, term_file = tmp_path / "pid", tmp_path / "term"
    # "$$$$" is the shell's "$$": Kubernetes expands "$$" in commands to "$".
    script = (
        f"trap 'echo term > {term_file}; exit 0' TERM; echo $$$$ > {pid_file}; "
        "while :; do sleep 0.1; done"
    )
    pod = {
        "metadata": {"name": "sleeper"},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", script]}],
        },
    }
    await create_pod(api_client, namespace, pod)
    pid = await _pid_from(pid_file)
    assert _alive(pid)

    async def running() -> bool:
        found = await get_pod(api_client, namespace, "sleeper")
        return bool(found and found["status"].get("phase") == "Running")

    await eventually(running, what="pod Running")
    status, _ = await request(
        api_client,
        "DELETE",
        f"/api/v1/namespaces/{namespace}/pods/sleeper",
        {"gracePeriodSeconds": 10},
    )
    assert status == 200

    async def gone() -> bool:
        return await get_pod(api_client, namespace, "sleeper") is None

    await eventually(gone, what="pod deleted by the node agent")
    assert term_file.read_text() == "term\n"
    await eventually(lambda: not _alive(pid), what=f"process {pid} gone", within=5, interval=0.05)


async def test_on_failure_restarts_until_success(
    api_client: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    counter = tmp_path / "count"
    script = (
        f"n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; "
        '[ "$n" -ge 3 ] || exit 1'
    )
    job = job_manifest("flaky", ["sh", "-c", script], backoff_limit=6, restart_policy="OnFailure")
    await create_job(api_client, namespace, job)
    await _job_condition(api_client, namespace, "flaky", "Complete")
    pod = await _only_pod(api_client, namespace, "flaky")
    (status,) = pod["status"]["containerStatuses"]
    assert status["restartCount"] == 2
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert status["state"]["terminated"]["exitCode"] == 0
    assert counter.read_text() == "3\n"


async def test_job_active_deadline_terminates_running_pod(
    api_client: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    job = job_manifest(
        "slow",
        ["sh", "-c", f"echo $$$$ > {pid_file}; exec sleep 300"],
        active_deadline_s=2,
        grace_s=1,
    )
    await create_job(api_client, namespace, job)
    pid = await _pid_from(pid_file)
    failed = await _job_condition(api_client, namespace, "slow", "Failed")
    assert failed["reason"] == "DeadlineExceeded"
    await eventually(lambda: not _alive(pid), what=f"process {pid} gone", within=5, interval=0.05)


async def test_pod_active_deadline_fails_the_pod(
    api_client: client.ApiClient, namespace: str
) -> None:
    pod = {
        "metadata": {"name": "deadline"},
        "spec": {
            "restartPolicy": "Never",
            "activeDeadlineSeconds": 1,
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "300"]}],
        },
    }
    await create_pod(api_client, namespace, pod)

    async def failed() -> Obj | None:
        found = await get_pod(api_client, namespace, "deadline")
        return found if found and found["status"].get("phase") == "Failed" else None

    found: Obj = await eventually(failed, what="pod Failed")
    assert found["status"]["reason"] == "DeadlineExceeded"
    assert _terminated(found)["exitCode"] == 143


async def test_init_containers_and_a_sidecar_in_a_job(
    api_client: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    order = tmp_path / "order"
    job = job_manifest("init", ["sh", "-c", f"echo main >> {order}"], grace_s=2)
    job["spec"]["template"]["spec"]["initContainers"] = [
        {"name": "setup", "image": "busybox", "command": ["sh", "-c", f"echo setup >> {order}"]},
        {
            "name": "proxy",
            "image": "busybox",
            "restartPolicy": "Always",
            "command": ["sleep", "300"],
        },
    ]
    await create_job(api_client, namespace, job)
    await _job_condition(api_client, namespace, "init", "Complete")
    assert order.read_text() == "setup\nmain\n"
    pod = await _only_pod(api_client, namespace, "init")
    setup, proxy = pod["status"]["initContainerStatuses"]
    assert setup["state"]["terminated"]["exitCode"] == 0
    assert "terminated" in proxy["state"]
    assert pod["status"]["phase"] == "Succeeded"


async def test_on_failure_exhausting_the_backoff_limit_fails_the_job(
    api_client: client.ApiClient, namespace: str
) -> None:
    job = job_manifest(
        "crashy", ["sh", "-c", "exit 2"], backoff_limit=1, restart_policy="OnFailure"
    )
    await create_job(api_client, namespace, job)
    failed = await _job_condition(api_client, namespace, "crashy", "Failed")
    assert failed["reason"] == "BackoffLimitExceeded"

    async def pods_gone() -> bool:
        # The Job controller deletes the still-active pod; the agent stops it and deletes it.
        return not await job_pods(api_client, namespace, "crashy")

    await eventually(pods_gone, what="the failed job's pod deleted")
