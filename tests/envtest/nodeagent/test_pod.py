"""One pod's lifecycle in the node agent, running real local processes; the API is a fake of
the agent's own small interface (status writes, final delete, config map / secret reads).

Aspects: a command's exit code, log (stdout and stderr, one per instance) and termination
message; FallbackToLogsOnError; start errors (no command, missing executable, missing config
map, invalid annotation); init containers run first and in order, and a failed one stops the
pod; OnFailure restarts with restartCount and lastState; deletion SIGTERMs the process group
(and its children), writes a final Failed status, then deletes the pod, and a forced delete
cuts a graceful stop short; activeDeadlineSeconds fails the pod with DeadlineExceeded;
annotation-driven containers follow their exit code, message, duration and log text; sidecars
(init containers with restartPolicy Always) run beside the containers, do not decide the
phase, and are stopped once the containers are done.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.support.wait import eventually
from zenflow.envtest.nodeagent.logread import output_tail
from zenflow.envtest.nodeagent.logs import LogStore
from zenflow.envtest.nodeagent.pod import PodWorker, WorkerSettings
from zenflow.envtest.nodeagent.spec import (
    ANNOTATION_DURATION_SECONDS,
    ANNOTATION_EXIT_CODE,
    ANNOTATION_LOG,
    ANNOTATION_TERMINATION_MESSAGE,
)
from zenflow.envtest.nodeagent.writer import StatusWriter


class FakeApi:
    def __init__(self) -> None:
        self.statuses: list[dict[str, Any]] = []
        self.deleted: list[str] = []
        self.config_maps: dict[str, dict[str, str]] = {}
        self.claims: set[str] = set()

    async def patch_pod_status(
        self, *, namespace: str, name: str, uid: str, status: dict[str, Any]
    ) -> None:
        self.statuses.append(status)

    async def delete_pod_now(self, *, namespace: str, name: str, uid: str) -> None:
        self.deleted.append(name)

    async def config_map_data(self, *, namespace: str, name: str) -> dict[str, str] | None:
        return self.config_maps.get(name)

    async def secret_data(self, *, namespace: str, name: str) -> dict[str, str] | None:
        return None

    async def claim_exists(self, *, namespace: str, name: str) -> bool:
        return name in self.claims

    @property
    def final(self) -> dict[str, Any]:
        return self.statuses[-1]


def _pod(
    *containers: dict[str, Any],
    init: list[dict[str, Any]] | None = None,
    restart_policy: str = "Never",
    annotations: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "p",
            "namespace": "ns",
            "uid": "u1",
            "annotations": annotations or {},
        },
        "spec": {
            "nodeName": "zenflow-local",
            "restartPolicy": restart_policy,
            "containers": [{"image": "busybox", **c} for c in containers],
            "initContainers": [{"image": "busybox", **c} for c in init or []],
            **spec,
        },
    }


def _worker(pod: dict[str, Any], api: FakeApi, work_dir: Path, *, mode: str = "exec") -> PodWorker:
    writer = StatusWriter(api=api, namespace="ns", name="p", uid="u1", limiter=asyncio.Semaphore(4))
    settings = WorkerSettings(
        mode="annotations" if mode == "annotations" else "exec",
        work_dir=work_dir,
        restart_backoff_base_s=0.01,
        restart_backoff_max_s=0.05,
    )
    logs = LogStore(work_dir / "pods")
    return PodWorker(pod=pod, api=api, writer=writer, settings=settings, logs=logs)


def _output(worker: PodWorker, container: str, instance: int = 0) -> bytes:
    """What an instance of a container wrote, as the kubelet would serve it."""
    path = worker.pod_dir / "logs" / container / f"{instance}.log"
    return output_tail(path)


def _terminated(status: dict[str, Any], index: int = 0, key: str = "containerStatuses") -> Any:
    return status[key][index]["state"]["terminated"]


async def test_exit_code_log_and_termination_message(tmp_path: Path) -> None:
    api = FakeApi()
    script = "echo out; echo err >&2; echo -n done > /dev/termination-log; exit 3"
    worker = _worker(_pod({"name": "c", "command": ["sh", "-c", script]}), api, tmp_path)
    await worker.run()
    assert api.final["phase"] == "Failed"
    terminated = _terminated(api.final)
    assert (terminated["exitCode"], terminated["reason"], terminated["message"]) == (
        3,
        "Error",
        "done",
    )
    assert _output(worker, "c") == b"out\nerr\n"
    assert api.deleted == []


async def test_fallback_to_logs_on_error(tmp_path: Path) -> None:
    api = FakeApi()
    container = {
        "name": "c",
        "command": ["sh", "-c", "echo boom; exit 1"],
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    await _worker(_pod(container), api, tmp_path).run()
    assert _terminated(api.final)["message"] == "boom\n"


@pytest.mark.parametrize(
    ("container", "fragment"),
    [
        pytest.param({"name": "c"}, "neither command nor args", id="no-command"),
        pytest.param(
            {"name": "c", "command": ["/nonexistent/tool"]},
            "failed to start '/nonexistent/tool'",
            id="missing-executable",
        ),
        pytest.param(
            {
                "name": "c",
                "command": ["true"],
                "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "m", "key": "k"}}}],
            },
            "configmap 'm' not found",
            id="missing-configmap",
        ),
    ],
)
async def test_start_errors(tmp_path: Path, container: dict[str, Any], fragment: str) -> None:
    api = FakeApi()
    await _worker(_pod(container), api, tmp_path).run()
    assert api.final["phase"] == "Failed"
    terminated = _terminated(api.final)
    assert (terminated["exitCode"], terminated["reason"]) == (128, "StartError")
    assert fragment in terminated["message"]
    assert "startedAt" not in terminated


async def test_invalid_annotation_fails_the_pod(tmp_path: Path) -> None:
    api = FakeApi()
    pod = _pod({"name": "c", "command": ["true"]}, annotations={ANNOTATION_EXIT_CODE: "x"})
    await _worker(pod, api, tmp_path).run()
    assert api.final["phase"] == "Failed"
    terminated = _terminated(api.final)
    assert (terminated["exitCode"], terminated["reason"]) == (128, "StartError")
    assert "not an integer" in terminated["message"]


async def test_config_map_env(tmp_path: Path) -> None:
    api = FakeApi()
    api.config_maps["m"] = {"k": "from-map"}
    container = {
        "name": "c",
        "command": ["sh", "-c", 'echo -n "$X" > "$ZENFLOW_TERMINATION_LOG"'],
        "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "m", "key": "k"}}}],
    }
    await _worker(_pod(container), api, tmp_path).run()
    assert _terminated(api.final)["message"] == "from-map"


async def test_init_containers_run_first_in_order(tmp_path: Path) -> None:
    api = FakeApi()
    order = tmp_path / "order"
    pod = _pod(
        {"name": "main", "command": ["sh", "-c", f"echo main >> {order}"]},
        init=[
            {"name": "one", "command": ["sh", "-c", f"echo one >> {order}"]},
            {"name": "two", "command": ["sh", "-c", f"echo two >> {order}"]},
        ],
    )
    await _worker(pod, api, tmp_path).run()
    assert order.read_text() == "one\ntwo\nmain\n"
    assert api.final["phase"] == "Succeeded"
    assert [s["ready"] for s in api.final["initContainerStatuses"]] == [True, True]


async def test_failed_init_container_stops_the_pod(tmp_path: Path) -> None:
    api = FakeApi()
    marker = tmp_path / "ran"
    pod = _pod(
        {"name": "main", "command": ["touch", str(marker)]},
        init=[{"name": "setup", "command": ["false"]}],
    )
    await _worker(pod, api, tmp_path).run()
    assert api.final["phase"] == "Failed"
    assert _terminated(api.final, key="initContainerStatuses")["exitCode"] == 1
    assert api.final["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert not marker.exists()


async def test_on_failure_restarts_until_success(tmp_path: Path) -> None:
    api = FakeApi()
    counter = tmp_path / "n"
    script = (
        f"n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; "
        'echo "try $n"; [ "$n" -ge 3 ]'
    )
    pod = _pod({"name": "c", "command": ["sh", "-c", script]}, restart_policy="OnFailure")
    worker = _worker(pod, api, tmp_path)
    await worker.run()
    # Each try has its own log; the current and the previous one are kept.
    assert sorted(p.name for p in (worker.pod_dir / "logs" / "c").iterdir()) == ["1.log", "2.log"]
    assert (_output(worker, "c", 1), _output(worker, "c", 2)) == (b"try 2\n", b"try 3\n")
    (status,) = api.final["containerStatuses"]
    assert api.final["phase"] == "Succeeded"
    assert status["restartCount"] == 2
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert any(
        "waiting" in s["containerStatuses"][0]["state"]
        and s["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"
        for s in api.statuses
    )


def _alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie (an exited, unreaped orphan)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _read(path: Path) -> str:
    return path.read_text().strip() if path.exists() else ""


async def _wait_for(path: Path) -> str:
    async def probe() -> str:
        return _read(path)

    text: str = await eventually(probe, what=f"file {path}", within=10, interval=0.01)
    return text


async def test_deletion_terminates_process_group_then_deletes(tmp_path: Path) -> None:
    api = FakeApi()
    child_pid = tmp_path / "child"
    # The background child shares the process group: it must die with the pod.
    script = f"sleep 300 & echo $! > {child_pid}; wait"
    pod = _pod({"name": "c", "command": ["sh", "-c", script]})
    worker = _worker(pod, api, tmp_path)
    task = asyncio.create_task(worker.run())
    pid = int(await _wait_for(child_pid))
    deleting = {
        **pod,
        "metadata": {
            **pod["metadata"],
            "deletionTimestamp": "2026-01-01T00:00:00Z",
            "deletionGracePeriodSeconds": 5,
        },
    }
    worker.update(deleting)
    async with asyncio.timeout(10):
        await task

    async def dead() -> bool:
        return not _alive(pid)

    # SIGKILL is delivered asynchronously: the child may take a moment to disappear.
    await eventually(dead, what=f"child {pid} gone", within=2, interval=0.01)
    assert api.final["phase"] == "Failed"
    assert _terminated(api.final)["exitCode"] == 143
    assert api.deleted == ["p"]


async def test_active_deadline_fails_the_pod(tmp_path: Path) -> None:
    api = FakeApi()
    pod = _pod(
        {"name": "c", "command": ["sleep", "300"]},
        activeDeadlineSeconds=0.2,
        terminationGracePeriodSeconds=1,
    )
    async with asyncio.timeout(10):
        await _worker(pod, api, tmp_path).run()
    assert (api.final["phase"], api.final["reason"]) == ("Failed", "DeadlineExceeded")
    assert api.deleted == []


async def test_annotations_mode_follows_the_plan(tmp_path: Path) -> None:
    api = FakeApi()
    annotations = {
        ANNOTATION_EXIT_CODE: "4",
        ANNOTATION_DURATION_SECONDS: "0.05",
        ANNOTATION_TERMINATION_MESSAGE: "bye",
        ANNOTATION_LOG: "one\ntwo\n",
    }
    pod = _pod({"name": "c", "command": ["false"]}, annotations=annotations)
    worker = _worker(pod, api, tmp_path, mode="annotations")
    await worker.run()
    assert api.statuses[0]["phase"] == "Running"
    terminated = _terminated(api.final)
    assert (terminated["exitCode"], terminated["message"]) == (4, "bye")
    # Nothing ran (no termination-message file); the log holds what the annotation says.
    assert [p.name for p in worker.pod_dir.iterdir()] == ["logs"]
    assert _output(worker, "c") == b"one\ntwo\n"


async def test_annotated_pod_stopped_during_its_duration(tmp_path: Path) -> None:
    api = FakeApi()
    pod = _pod({"name": "c"}, annotations={ANNOTATION_DURATION_SECONDS: "300"})
    worker = _worker(pod, api, tmp_path, mode="annotations")
    task = asyncio.create_task(worker.run())
    await eventually(
        lambda: any(s["phase"] == "Running" for s in api.statuses), what="Running", interval=0.01
    )
    worker.request_stop("gone", grace_s=0)
    async with asyncio.timeout(5):
        await task
    assert _terminated(api.final)["exitCode"] == 143
    assert api.deleted == []


async def test_sidecar_runs_beside_the_containers_and_is_stopped_after(tmp_path: Path) -> None:
    api = FakeApi()
    seen = tmp_path / "seen"
    sidecar_pid = tmp_path / "sidecar"
    # The sidecar publishes its pid atomically; the main container waits for it, copies it.
    sidecar_script = f"echo $$$$ > {sidecar_pid}.tmp; mv {sidecar_pid}.tmp {sidecar_pid}; sleep 300"
    main_script = f"while [ ! -s {sidecar_pid} ]; do sleep 0.01; done; cat {sidecar_pid} > {seen}"
    pod = _pod(
        {"name": "main", "command": ["sh", "-c", main_script]},
        init=[
            {"name": "proxy", "restartPolicy": "Always", "command": ["sh", "-c", sidecar_script]}
        ],
        terminationGracePeriodSeconds=2,
    )
    async with asyncio.timeout(10):
        await _worker(pod, api, tmp_path).run()
    assert api.final["phase"] == "Succeeded"
    sidecar = api.final["initContainerStatuses"][0]
    assert sidecar["state"]["terminated"]["exitCode"] == 143
    pid = int(_read(seen))

    async def dead() -> bool:
        return not _alive(pid)

    await eventually(dead, what="sidecar gone", within=2, interval=0.01)
    running = [s for s in api.statuses if "running" in s["initContainerStatuses"][0]["state"]]
    assert running
    assert running[0]["phase"] in ("Pending", "Running")


async def test_annotated_pod_with_sidecar(tmp_path: Path) -> None:
    api = FakeApi()
    pod = _pod(
        {"name": "main"},
        init=[{"name": "proxy", "restartPolicy": "Always"}],
        annotations={ANNOTATION_EXIT_CODE: "0"},
    )
    async with asyncio.timeout(5):
        await _worker(pod, api, tmp_path, mode="annotations").run()
    assert api.final["phase"] == "Succeeded"
    assert api.final["initContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 143


async def test_forced_delete_cuts_a_graceful_stop_short(tmp_path: Path) -> None:
    api = FakeApi()
    ready, termed = tmp_path / "ready", tmp_path / "termed"
    script = f"trap 'touch {termed}' TERM; touch {ready}; while :; do sleep 0.05; done"
    worker = _worker(_pod({"name": "c", "command": ["sh", "-c", script]}), api, tmp_path)
    task = asyncio.create_task(worker.run())
    await eventually(ready.exists, what="trap installed", within=10, interval=0.01)
    worker.request_stop("deleted", grace_s=300)
    # The process got its SIGTERM and lives on: the worker waits out the grace period.
    await eventually(termed.exists, what="SIGTERM delivered", within=10, interval=0.01)
    assert not task.done()
    worker.request_stop("gone", grace_s=0)
    async with asyncio.timeout(5):
        await task
    assert _terminated(api.final)["exitCode"] == 137
