"""The local node agent: a kubelet stand-in for the local control plane (no container runtime).

Run as its own process::

    python -m zenflow.envtest.nodeagent.agent --kubeconfig PATH --node-name zenflow-local \\
        --work-dir DIR --mode exec|annotations

It registers a Ready Node and keeps it Ready (:mod:`node`), watches every Pod
(list, then watch from the list's resourceVersion; relist on 410; reconnect with backoff), binds
unscheduled pods of the default scheduler to its node (there is no kube-scheduler), and runs each
pod bound to it in one asyncio task (:mod:`pod`): containers as local processes in mode
"exec", or terminated per the ``envtest.zenflow.io/*`` annotations (see
:mod:`spec`) in mode "annotations" or whenever a pod carries the exit-code annotation.
Pod status is real, written through pods/status, so the real Job controller reacts to it.

Layers: this module (process entry, event dispatch) and ``node`` (Node, Lease,
heartbeat) → ``pod`` (one pod's lifecycle) → ``exec`` (one container
instance) and ``writer`` (latest-wins status writes) → ``spec`` /
``status`` (pure) and ``process`` (local processes) → ``kube``
(API requests on JSON dicts).

Limits: images, volumes, resources, probes, securityContext, ports and workingDir are ignored;
processes run as the agent's user in a per-pod directory and share the host's network (podIP
is 127.0.0.1). SIGTERM/SIGINT kill every pod process; if the agent itself is SIGKILLed, its
pods' processes (each in its own session) outlive it until the next agent started on the same
work directory kills them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from zenflow.envtest.nodeagent.kube import AgentApi, retryable
from zenflow.envtest.nodeagent.node import NodeHeartbeat
from zenflow.envtest.nodeagent.pod import Mode, PodWorker, WorkerSettings
from zenflow.envtest.nodeagent.process import kill_orphans
from zenflow.envtest.nodeagent.spec import (
    ANNOTATION_DURATION_SECONDS,
    ANNOTATION_EXIT_CODE,
    ANNOTATION_TERMINATION_MESSAGE,
    TERMINATION_LOG_ENV,
)
from zenflow.envtest.nodeagent.writer import StatusWriter
from zenflow.errors import ConflictError, GoneError, KubeError, NotFoundError, ZenflowError
from zenflow.kube.client import load_configuration, new_api_client
from zenflow.logging import LEVELS, configure_logging, get_logger

__all__ = [
    "ANNOTATION_DURATION_SECONDS",
    "ANNOTATION_EXIT_CODE",
    "ANNOTATION_TERMINATION_MESSAGE",
    "DEFAULT_NODE_NAME",
    "TERMINATION_LOG_ENV",
    "NodeAgent",
    "main",
]

log = get_logger(__name__)

DEFAULT_NODE_NAME: Final = "zenflow-local"
DEFAULT_SCHEDULERS: Final = ("", "default-scheduler")
TERMINAL_PHASES: Final = ("Succeeded", "Failed")
RETRY_BASE_S: Final = 0.1
RETRY_MAX_S: Final = 5.0
LOST_MESSAGE: Final = "the node agent restarted while the pod was running; its processes are gone"


class NodeAgent:
    """Dispatches pod events to per-pod workers. Invariants: at most one worker per pod uid;
    a uid in ``_finished`` is never run again; a uid in ``_binding`` is not bound again."""

    def __init__(
        self,
        *,
        api: AgentApi,
        node_name: str,
        settings: WorkerSettings,
        max_concurrent_writes: int = 32,
    ) -> None:
        self._api = api
        self._node = node_name
        self._settings = settings
        self._limiter = asyncio.Semaphore(max_concurrent_writes)
        self._workers: dict[str, PodWorker] = {}
        self._finished: set[str] = set()
        self._binding: set[str] = set()
        self._deleting: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Register the node, then serve until ``stop`` is set; kills every process on exit."""
        heartbeat = NodeHeartbeat(api=self._api, name=self._node)
        await self._retry_forever(heartbeat.register, what="register node", stop=stop)
        if stop.is_set():
            return
        background = [
            asyncio.create_task(heartbeat.run(), name="heartbeat"),
            asyncio.create_task(self._watch_forever(), name="watch"),
        ]
        try:
            await stop.wait()
        finally:
            for worker in self._workers.values():
                worker.kill_now()
            for task in [*background, *self._tasks]:
                task.cancel()
            await asyncio.gather(*background, *self._tasks, return_exceptions=True)
            log.info("node_agent_stopped", node=self._node)

    async def _retry_forever(self, action: Any, *, what: str, stop: asyncio.Event) -> None:
        delay = RETRY_BASE_S
        while not stop.is_set():
            try:
                await action()
                return
            except KubeError as exc:
                log.warning("request_retry", what=what, error=str(exc), delay_s=delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            delay = min(delay * 2, RETRY_MAX_S)

    # --- watch ------------------------------------------------------------------------------

    async def _watch_forever(self) -> None:
        resource_version: str | None = None
        delay = RETRY_BASE_S
        while True:
            try:
                if resource_version is None:
                    pods, resource_version = await self._api.list_pods()
                    self.resync(pods)
                async with contextlib.aclosing(
                    self._api.watch_pods(resource_version=resource_version)
                ) as events:
                    async for kind, obj in events:
                        resource_version = obj.get("metadata", {}).get(
                            "resourceVersion", resource_version
                        )
                        if kind != "BOOKMARK":
                            self.handle(kind, obj)
                delay = RETRY_BASE_S
            except GoneError:
                log.info("pod_watch_expired", resource_version=resource_version)
                resource_version = None
            except KubeError as exc:
                log.warning("pod_watch_failed", error=str(exc), delay_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)

    def resync(self, pods: list[dict[str, Any]]) -> None:
        """A fresh list: pods that vanished unseen are gone; every listed pod is re-handled."""
        listed = {pod["metadata"]["uid"] for pod in pods}
        for uid, worker in list(self._workers.items()):
            if uid not in listed:
                worker.request_stop("gone", grace_s=0)
        self._finished &= listed
        self._binding &= listed
        for pod in pods:
            self.handle("ADDED", pod)

    def handle(self, kind: str, pod: dict[str, Any]) -> None:
        """React to one watch event at once (no queue, no polling)."""
        meta, spec = pod.get("metadata", {}), pod.get("spec", {})
        uid = meta.get("uid", "")
        worker = self._workers.get(uid)
        if kind == "DELETED":
            if worker is not None:
                worker.request_stop("gone", grace_s=0)
            self._finished.discard(uid)
            self._binding.discard(uid)
            self._deleting.discard(uid)
            return
        node = spec.get("nodeName") or ""
        if not node:
            if (
                spec.get("schedulerName", "") in DEFAULT_SCHEDULERS
                and uid not in self._binding
                and not meta.get("deletionTimestamp")
            ):
                self._binding.add(uid)
                self._spawn(self._bind(pod), name=f"bind:{meta.get('name')}")
            return
        if node != self._node:
            return
        if worker is not None:
            worker.update(pod)
            return
        phase = (pod.get("status") or {}).get("phase", "")
        if uid in self._finished or phase in TERMINAL_PHASES:
            if meta.get("deletionTimestamp") and uid not in self._deleting:
                self._deleting.add(uid)
                self._spawn(self._delete_finished(pod), name=f"delete:{meta.get('name')}")
            return
        self._start_worker(pod)

    def _start_worker(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        uid = meta["uid"]
        writer = StatusWriter(
            api=self._api,
            namespace=meta["namespace"],
            name=meta["name"],
            uid=uid,
            limiter=self._limiter,
        )
        worker = PodWorker(pod=pod, api=self._api, writer=writer, settings=self._settings)
        self._workers[uid] = worker
        status = pod.get("status") or {}
        statuses = [
            *(status.get("initContainerStatuses") or []),
            *(status.get("containerStatuses") or []),
        ]
        # A container that ever started means an earlier agent ran this pod: it cannot resume.
        if any("waiting" not in (s.get("state") or {"waiting": {}}) for s in statuses):
            coro = worker.run_lost(LOST_MESSAGE)
        else:
            coro = worker.run()
            worker.update(pod)

        async def run_and_forget() -> None:
            try:
                await coro
            finally:
                self._workers.pop(uid, None)
                self._finished.add(uid)
                if worker.stop_reason == "deleted":
                    self._deleting.add(uid)  # the worker made the final delete itself

        self._spawn(run_and_forget(), name=f"pod:{meta['namespace']}/{meta['name']}")

    def _spawn(self, coro: Any, *, name: str) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _bind(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        namespace, name, uid = meta["namespace"], meta["name"], meta["uid"]
        delay = RETRY_BASE_S
        # Retried until bound, refused for good, or the pod is deleted (DELETED clears _binding).
        while uid in self._binding:
            try:
                await self._api.bind_pod(namespace=namespace, name=name, uid=uid, node=self._node)
            except (ConflictError, NotFoundError) as exc:
                # Already bound (the watch delivers where) or deleted meanwhile.
                log.info("pod_bind_skipped", namespace=namespace, pod=name, error=str(exc))
                return
            except KubeError as exc:
                if not retryable(exc):
                    log.error("pod_bind_refused", namespace=namespace, pod=name, error=str(exc))
                    return
                log.warning("pod_bind_failed", namespace=namespace, pod=name, error=str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            log.info("pod_bound", namespace=namespace, pod=name, node=self._node)
            # Start at once instead of waiting for the watch to echo the binding.
            bound = {**pod, "spec": {**pod.get("spec", {}), "nodeName": self._node}}
            if uid not in self._workers and uid not in self._finished:
                self._start_worker(bound)
            return

    async def _delete_finished(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        try:
            await self._api.delete_pod_now(
                namespace=meta["namespace"], name=meta["name"], uid=meta["uid"]
            )
        except NotFoundError:
            pass
        except KubeError as exc:
            log.warning(
                "pod_delete_failed", namespace=meta["namespace"], pod=meta["name"], error=str(exc)
            )
            self._deleting.discard(meta["uid"])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m zenflow.envtest.nodeagent.agent",
        description="Local kubelet stand-in: registers a Ready node, binds and runs pods.",
    )
    parser.add_argument("--kubeconfig", help="kubeconfig of the cluster (default: $KUBECONFIG)")
    parser.add_argument("--node-name", default=DEFAULT_NODE_NAME, help="name of the Node")
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "zenflow-nodeagent",
        help="per-pod working directories, logs and termination-message files go here",
    )
    parser.add_argument(
        "--mode",
        choices=("exec", "annotations"),
        default="exec",
        help="exec: run command/args as local processes; annotations: only follow the "
        f"{ANNOTATION_EXIT_CODE} / {ANNOTATION_DURATION_SECONDS} annotations",
    )
    parser.add_argument("--restart-backoff-base", type=float, default=0.5, metavar="SECONDS")
    parser.add_argument("--restart-backoff-max", type=float, default=10.0, metavar="SECONDS")
    parser.add_argument("--max-concurrent-writes", type=int, default=32)
    parser.add_argument("--log-level", choices=LEVELS, default="info")
    parser.add_argument("--log-format", choices=("json", "console"), default="json")
    return parser


async def serve(args: argparse.Namespace) -> None:
    mode: Mode = args.mode
    settings = WorkerSettings(
        mode=mode,
        work_dir=args.work_dir,
        restart_backoff_base_s=args.restart_backoff_base,
        restart_backoff_max_s=args.restart_backoff_max,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    cfg = await load_configuration(args.kubeconfig)
    api_client = new_api_client(cfg)
    # kubernetes-asyncio's aiohttp session trusts the environment: every request then looks up
    # ~/.netrc and proxy variables in a worker thread. The agent talks to a loopback apiserver
    # only, so it skips that per-request cost.
    api_client.rest_client.pool_manager._trust_env = False
    try:
        agent = NodeAgent(
            api=AgentApi(api_client),
            node_name=args.node_name,
            settings=settings,
            max_concurrent_writes=args.max_concurrent_writes,
        )
        log.info(
            "node_agent_starting", node=args.node_name, mode=mode, work_dir=str(settings.work_dir)
        )
        await agent.run(stop)
    finally:
        await api_client.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.work_dir = args.work_dir.resolve()
    configure_logging(args.log_level, args.log_format)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    if orphans := kill_orphans(args.work_dir / "pods"):
        log.warning("orphan_processes_killed", pids=orphans, work_dir=str(args.work_dir))
    try:
        asyncio.run(serve(args))
    except ZenflowError as exc:
        print(f"nodeagent: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
