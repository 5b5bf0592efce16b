"""The local node agent: a kubelet stand-in for the local control plane (no container runtime).

Run as its own process by :mod:`zenflow.envtest.nodeagent.main`.

It registers a Ready Node and keeps it Ready (:mod:`node`), watches every Pod
(list, then watch from the list's resourceVersion; relist on 410; reconnect with backoff), binds
unscheduled pods of the default scheduler to its node (there is no kube-scheduler), and runs each
pod bound to it in one asyncio task (:mod:`pod`): containers as local processes in mode
"exec", or terminated per the ``envtest.zenflow.io/*`` annotations (see
:mod:`spec`) in mode "annotations" or whenever a pod carries the exit-code annotation.
Pod status is real, written through pods/status, so the real Job controller reacts to it.
With the TLS flags it also serves the kubelet's log API (:mod:`logserver`) and reports its port
in the Node status, so the API server's ``pods/log`` (``kubectl logs``) reaches it; each
container instance's output is kept (:mod:`logs`, capped per instance by
``--container-log-max-size``) until its pod is deleted.

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

import asyncio
import contextlib
from typing import Any, Final

from zenflow.envtest.nodeagent.kube import AgentApi, retryable
from zenflow.envtest.nodeagent.logs import LogStore
from zenflow.envtest.nodeagent.logserver import LogServer
from zenflow.envtest.nodeagent.node import NodeHeartbeat
from zenflow.envtest.nodeagent.pod import PodWorker, WorkerSettings
from zenflow.envtest.nodeagent.spec import (
    ANNOTATION_DURATION_SECONDS,
    ANNOTATION_EXIT_CODE,
    ANNOTATION_LOG,
    ANNOTATION_TERMINATION_MESSAGE,
    TERMINATION_LOG_ENV,
)
from zenflow.envtest.nodeagent.writer import StatusWriter
from zenflow.errors import (
    ConflictError,
    GoneError,
    KubeError,
    NotFoundError,
)
from zenflow.logging import get_logger

__all__ = [
    "ANNOTATION_DURATION_SECONDS",
    "ANNOTATION_EXIT_CODE",
    "ANNOTATION_LOG",
    "ANNOTATION_TERMINATION_MESSAGE",
    "DEFAULT_NODE_NAME",
    "TERMINATION_LOG_ENV",
    "NodeAgent",
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
    a uid in ``_finished`` is never run again; a uid in ``_binding`` is not bound again; a pod
    that is gone has its logs removed once no worker runs it."""

    def __init__(
        self,
        *,
        api: AgentApi,
        node_name: str,
        settings: WorkerSettings,
        logs: LogStore,
        log_server: LogServer | None = None,
        max_concurrent_writes: int = 32,
    ) -> None:
        self._api = api
        self._node = node_name
        self._settings = settings
        self._logs = logs
        self._log_server = log_server
        self._limiter = asyncio.Semaphore(max_concurrent_writes)
        self._workers: dict[str, PodWorker] = {}
        self._finished: set[str] = set()
        self._binding: set[str] = set()
        self._deleting: set[str] = set()
        self._gone: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Serve the log API, register the node, then run pods until ``stop`` is set; kills
        every process on exit."""
        port = await self._log_server.start() if self._log_server is not None else 0
        try:
            await self._serve(stop, port)
        finally:
            if self._log_server is not None:
                await self._log_server.stop()

    async def _serve(self, stop: asyncio.Event, port: int) -> None:
        heartbeat = NodeHeartbeat(api=self._api, name=self._node, kubelet_port=port)
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
                self._gone.add(uid)
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
                self._gone.add(uid)
                worker.request_stop("gone", grace_s=0)
            else:
                self._logs.remove_pod(
                    namespace=meta.get("namespace", ""), name=meta.get("name", ""), uid=uid
                )
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

    async def settled(self) -> None:
        """Return once every reaction to the events handled so far has ended (binds, pod
        workers, final deletes, and what those started): a test that checks that an event
        caused nothing checks once the reactions it could have caused are over."""
        while pending := {task for task in self._tasks if not task.done()}:
            await asyncio.wait(pending)

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
        worker = PodWorker(
            pod=pod, api=self._api, writer=writer, settings=self._settings, logs=self._logs
        )
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
                if uid in self._gone:
                    self._gone.discard(uid)
                    self._logs.remove_pod(namespace=meta["namespace"], name=meta["name"], uid=uid)

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
