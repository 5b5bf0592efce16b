"""Event dispatch of the node agent (``NodeAgent.handle``) against a fake of its request layer,
and its command line.

Aspects: unscheduled pods of the default scheduler are bound once and started without waiting
for the watch; pods of other schedulers, other nodes, or already bound elsewhere are left
alone; a pod is run at most once, even when events repeat after it finished; finished pods
under deletion get the final delete; a pod found running after an agent restart is marked
failed (its processes are gone); binding is retried while the server is unavailable but not
when refused; a relist stops workers of pods that vanished; the CLI defaults. "Nothing happened"
is checked once the agent's reactions to the events so far are over (``NodeAgent.settled``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from tests.support.wait import eventually
from zenflow.envtest.nodeagent.agent import DEFAULT_NODE_NAME, LOST_MESSAGE, NodeAgent
from zenflow.envtest.nodeagent.kube import AgentApi
from zenflow.envtest.nodeagent.logs import LogStore
from zenflow.envtest.nodeagent.main import build_parser
from zenflow.envtest.nodeagent.pod import WorkerSettings
from zenflow.envtest.nodeagent.spec import ANNOTATION_DURATION_SECONDS, ANNOTATION_EXIT_CODE
from zenflow.errors import KubeError, UnreachableError

NODE = "zenflow-local"


class FakeAgentApi:
    def __init__(self) -> None:
        self.bound: list[str] = []
        self.bind_failures: list[KubeError] = []
        self.statuses: dict[str, list[dict[str, Any]]] = {}
        self.deleted: list[str] = []

    async def bind_pod(self, *, namespace: str, name: str, uid: str, node: str) -> None:
        if self.bind_failures:
            raise self.bind_failures.pop(0)
        self.bound.append(name)

    async def patch_pod_status(
        self, *, namespace: str, name: str, uid: str, status: dict[str, Any]
    ) -> None:
        self.statuses.setdefault(name, []).append(status)

    async def delete_pod_now(self, *, namespace: str, name: str, uid: str) -> None:
        self.deleted.append(name)

    async def config_map_data(self, *, namespace: str, name: str) -> dict[str, str] | None:
        return None

    async def secret_data(self, *, namespace: str, name: str) -> dict[str, str] | None:
        return None

    def phase(self, name: str) -> str:
        return str(self.statuses[name][-1]["phase"]) if name in self.statuses else ""


def _agent(api: FakeAgentApi, tmp_path: Path) -> NodeAgent:
    settings = WorkerSettings(mode="annotations", work_dir=tmp_path)
    return NodeAgent(
        api=cast(AgentApi, api),
        node_name=NODE,
        settings=settings,
        logs=LogStore(tmp_path / "pods"),
    )


def _pod(
    name: str,
    *,
    node: str = "",
    scheduler: str | None = None,
    phase: str = "Pending",
    annotations: dict[str, str] | None = None,
    deleting: bool = False,
    statuses: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": "ns",
        "uid": f"uid-{name}",
        "annotations": annotations or {ANNOTATION_EXIT_CODE: "0"},
    }
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        meta["deletionGracePeriodSeconds"] = 0
    spec: dict[str, Any] = {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}
    if node:
        spec["nodeName"] = node
    if scheduler is not None:
        spec["schedulerName"] = scheduler
    status: dict[str, Any] = {"phase": phase}
    if statuses is not None:
        status["containerStatuses"] = statuses
    return {"metadata": meta, "spec": spec, "status": status}


async def _settle(api: FakeAgentApi, name: str, phase: str) -> None:
    async def probe() -> bool:
        return api.phase(name) == phase

    await eventually(probe, what=f"{name} {phase}", within=5, interval=0.005)


async def test_binds_once_and_runs_at_once(tmp_path: Path) -> None:
    api = FakeAgentApi()
    agent = _agent(api, tmp_path)
    pod = _pod("a", scheduler="default-scheduler")
    agent.handle("ADDED", pod)
    agent.handle("MODIFIED", pod)
    await _settle(api, "a", "Succeeded")
    assert api.bound == ["a"]
    # The watch echoes the binding, then the status: nothing runs twice.
    agent.handle("MODIFIED", _pod("a", node=NODE))
    agent.handle("MODIFIED", _pod("a", node=NODE, phase="Succeeded"))
    await agent.settled()
    assert len(api.statuses["a"]) == 1


async def test_leaves_other_pods_alone(tmp_path: Path) -> None:
    api = FakeAgentApi()
    agent = _agent(api, tmp_path)
    agent.handle("ADDED", _pod("custom", scheduler="my-scheduler"))
    agent.handle("ADDED", _pod("elsewhere", node="other-node"))
    agent.handle("ADDED", _pod("gone", deleting=True))
    await agent.settled()
    assert api.bound == []
    assert api.statuses == {}


async def test_finished_pod_under_deletion_is_deleted(tmp_path: Path) -> None:
    api = FakeAgentApi()
    agent = _agent(api, tmp_path)
    agent.handle("MODIFIED", _pod("done", node=NODE, phase="Succeeded", deleting=True))
    agent.handle("MODIFIED", _pod("done", node=NODE, phase="Succeeded", deleting=True))

    async def deleted() -> bool:
        return api.deleted == ["done"]

    await eventually(deleted, what="final delete", within=5)
    assert api.statuses == {}


async def test_running_pod_after_restart_is_marked_lost(tmp_path: Path) -> None:
    api = FakeAgentApi()
    agent = _agent(api, tmp_path)
    running = [{"name": "c", "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]
    agent.handle("ADDED", _pod("old", node=NODE, phase="Running", statuses=running))
    await _settle(api, "old", "Failed")
    terminated = api.statuses["old"][-1]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["message"] == LOST_MESSAGE


async def test_deleted_event_stops_the_worker(tmp_path: Path) -> None:
    api = FakeAgentApi()
    agent = _agent(api, tmp_path)
    annotations = {ANNOTATION_EXIT_CODE: "0", ANNOTATION_DURATION_SECONDS: "300"}
    agent.handle("ADDED", _pod("long", node=NODE, annotations=annotations))
    await _settle(api, "long", "Running")
    agent.handle("DELETED", _pod("long", node=NODE, annotations=annotations))
    await _settle(api, "long", "Failed")
    assert api.deleted == []


async def test_relist_stops_workers_of_vanished_pods_and_handles_the_rest(tmp_path: Path) -> None:
    api = FakeAgentApi()
    agent = _agent(api, tmp_path)
    annotations = {ANNOTATION_EXIT_CODE: "0", ANNOTATION_DURATION_SECONDS: "300"}
    agent.handle("ADDED", _pod("vanished", node=NODE, annotations=annotations))
    await _settle(api, "vanished", "Running")
    agent.resync([_pod("new")])
    await _settle(api, "vanished", "Failed")
    await _settle(api, "new", "Succeeded")
    assert api.bound == ["new"]


async def test_binding_is_retried_while_the_server_is_unavailable(tmp_path: Path) -> None:
    api = FakeAgentApi()
    api.bind_failures = [UnreachableError("down"), KubeError("overloaded", status=429)]
    agent = _agent(api, tmp_path)
    agent.handle("ADDED", _pod("a"))
    await _settle(api, "a", "Succeeded")
    assert api.bound == ["a"]


async def test_refused_binding_is_not_retried(tmp_path: Path) -> None:
    api = FakeAgentApi()
    api.bind_failures = [KubeError("forbidden", status=403)]
    agent = _agent(api, tmp_path)
    agent.handle("ADDED", _pod("a"))
    await agent.settled()  # the bind was refused
    assert api.bind_failures == []
    agent.handle("MODIFIED", _pod("a"))
    await agent.settled()
    assert api.bound == []
    assert api.statuses == {}


def test_cli_defaults() -> None:
    args = build_parser().parse_args(["--kubeconfig", "/k"])
    assert (args.kubeconfig, args.node_name, args.mode) == ("/k", DEFAULT_NODE_NAME, "exec")
    args = build_parser().parse_args(["--mode", "annotations", "--work-dir", "/w"])
    assert (args.mode, args.work_dir) == ("annotations", Path("/w"))
