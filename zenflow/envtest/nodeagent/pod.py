"""One bound pod's life on the local node: the node agent's counterpart of the kubelet's pod
worker.

The worker runs the init containers one after another, then the containers together, each as a
local process (mode "exec") or by following the test annotations, each instance with its log in
the node's ``LogStore`` (a process's stdout/stderr; an annotation-driven container's
``envtest.zenflow.io/log`` text); sidecars (init containers with
restartPolicy Always) start in their turn, run beside the rest and are stopped once the
containers are done. It restarts failed containers
per the pod's restartPolicy with a capped exponential backoff, stops everything when the pod is
deleted or outlives ``activeDeadlineSeconds`` (SIGTERM, SIGKILL after the grace period), and
publishes each change of its container records as the pod status. A pod under deletion gets its
final status written, then is deleted with grace period 0, the kubelet's last word.

Invariant: after :meth:`PodWorker.run` returns no process of the pod is alive and the final
status has been handed to the writer and flushed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal, Protocol

from zenflow.envtest.nodeagent import spec as specs
from zenflow.envtest.nodeagent.exec import EnvApi, ExecPaths, collect_message, prepare, run_to_exit
from zenflow.envtest.nodeagent.logs import ContainerLog, LogStore
from zenflow.envtest.nodeagent.process import LocalProcess
from zenflow.envtest.nodeagent.status import (
    MESSAGE_DEADLINE_EXCEEDED,
    REASON_DEADLINE_EXCEEDED,
    REASON_ERROR,
    REASON_START_ERROR,
    START_ERROR_EXIT_CODE,
    ContainerRecord,
    build_status,
    new_records,
)
from zenflow.envtest.nodeagent.volumes import (
    HostVolume,
    VolumeApi,
    container_mounts,
    materialise,
    plan_volumes,
)
from zenflow.envtest.nodeagent.writer import StatusWriter
from zenflow.errors import KubeError, NotFoundError
from zenflow.logging import get_logger

log = get_logger(__name__)

Mode = Literal["exec", "annotations"]
StopReason = Literal["deleted", "deadline", "gone"]
DEFAULT_GRACE_S: Final = 30.0
SIGTERM_EXIT_CODE: Final = 143
# What the kubelet reports for a container that never ran when its pod was stopped.
UNKNOWN_EXIT_CODE: Final = 137


class PodApi(EnvApi, VolumeApi, Protocol):
    async def delete_pod_now(self, *, namespace: str, name: str, uid: str) -> None: ...


@dataclass(frozen=True)
class WorkerSettings:
    mode: Mode
    work_dir: Path
    restart_backoff_base_s: float = 0.5
    restart_backoff_max_s: float = 10.0


def _now() -> datetime:
    return datetime.now(UTC)


class PodWorker:
    """Runs one pod. The agent feeds it every newer version of the pod via :meth:`update`."""

    def __init__(
        self,
        *,
        pod: dict[str, Any],
        api: PodApi,
        writer: StatusWriter,
        settings: WorkerSettings,
        logs: LogStore,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.pod = pod
        meta = pod["metadata"]
        self.namespace: str = meta["namespace"]
        self.name: str = meta["name"]
        self.uid: str = meta["uid"]
        self._api = api
        self._writer = writer
        self._settings = settings
        self._logs = logs
        self._clock = clock
        spec = pod.get("spec", {})
        self._restart_policy: str = spec.get("restartPolicy", "Always")
        self._init_specs: list[dict[str, Any]] = list(spec.get("initContainers") or [])
        self._main_specs: list[dict[str, Any]] = list(spec.get("containers") or [])
        self.init = new_records(self._init_specs, waiting_reason="PodInitializing", init=True)
        self.main = new_records(
            self._main_specs,
            waiting_reason="PodInitializing" if self._init_specs else "ContainerCreating",
        )
        self.start_time = clock()
        self.stop_reason: StopReason | None = None
        # Invariant: _stopped (the pod stops) implies _sidecars_stopped.
        self._stopped = asyncio.Event()
        self._sidecars_stopped = asyncio.Event()
        self._started: dict[str, asyncio.Event] = {}
        grace = spec.get("terminationGracePeriodSeconds")
        self._grace_s = float(grace) if grace is not None else DEFAULT_GRACE_S
        self._processes: dict[str, LocalProcess] = {}
        self._log = log.bind(namespace=self.namespace, pod=self.name, uid=self.uid)
        self.pod_dir = logs.pod_dir(namespace=self.namespace, name=self.name, uid=self.uid)
        self._volumes: dict[str, HostVolume] = {}

    # --- control from the agent -------------------------------------------------------------

    def update(self, pod: dict[str, Any]) -> None:
        """A newer version of the pod was observed; a deletionTimestamp stops the pod."""
        self.pod = pod
        meta = pod.get("metadata", {})
        if meta.get("deletionTimestamp"):
            grace = meta.get("deletionGracePeriodSeconds")
            self.request_stop("deleted", grace_s=float(grace) if grace is not None else None)

    def request_stop(self, reason: StopReason, *, grace_s: float | None = None) -> None:
        """Stop every container (first request wins; a later one may only shorten the grace)."""
        if grace_s is not None:
            self._grace_s = min(self._grace_s, grace_s) if self.stop_reason else grace_s
        if self.stop_reason is None:
            self.stop_reason = reason
            self._log.info("pod_stop_requested", reason=reason, grace_s=self._grace_s)
        elif grace_s == 0:
            # A forced delete (or the pod vanished) during a graceful stop: no more waiting.
            self.kill_now()
        self._stopped.set()
        self._sidecars_stopped.set()

    def kill_now(self) -> None:
        """Agent shutdown: SIGKILL every process of the pod at once."""
        for process in self._processes.values():
            process.kill_now()

    # --- lifecycle --------------------------------------------------------------------------

    async def run(self) -> None:
        deadline = self._arm_deadline()
        try:
            await self._lifecycle()
        except Exception as exc:  # one bad pod must not take the agent down
            self._log.exception("pod_worker_failed")
            self._fail_remaining(f"node agent error: {exc}", reason=REASON_ERROR)
            self._publish(final=True)
        finally:
            if deadline is not None:
                deadline.cancel()
            self.kill_now()
        await self._writer.flush()
        if self.stop_reason == "deleted" and not self._writer.pod_gone:
            await self._delete()

    async def run_lost(self, message: str) -> None:
        """The pod was running before the agent restarted: its processes are gone. Mark every
        unfinished container failed, and finish like :meth:`run`."""
        self._fail_remaining(message)
        self._publish(final=True)
        await self._writer.flush()
        if self.pod.get("metadata", {}).get("deletionTimestamp") and not self._writer.pod_gone:
            await self._delete()

    async def _lifecycle(self) -> None:
        try:
            plan = specs.annotation_plan(self.pod, mode=self._settings.mode)
        except specs.SpecError as exc:
            self._fail_remaining(
                str(exc), reason=REASON_START_ERROR, exit_code=START_ERROR_EXIT_CODE
            )
            self._publish(final=True)
            return
        self.pod_dir.mkdir(parents=True, exist_ok=True)
        if plan is None and not await self._prepare_volumes():
            self._publish(final=True)
            return
        sidecars: list[asyncio.Task[None]] = []
        try:
            for record, container in zip(self.init, self._init_specs, strict=True):
                if record.sidecar:
                    sidecars.append(await self._start_sidecar(record, container, plan))
                    continue
                await self._run_container(record, container, plan, stopped=self._stopped)
                if not record.succeeded:
                    break
            if all(r.initialized for r in self.init) and not self._stopped.is_set():
                for record in self.main:
                    record.waiting_reason = "ContainerCreating"
                await asyncio.gather(
                    *(
                        self._run_container(record, container, plan, stopped=self._stopped)
                        for record, container in zip(self.main, self._main_specs, strict=True)
                    )
                )
        finally:
            # The containers are done (or the pod stops): the sidecars go too.
            self._sidecars_stopped.set()
            await asyncio.gather(*sidecars)
        if self._stopped.is_set():
            self._fail_remaining("")
        if self.stop_reason == "deadline":
            self._publish(
                final=True, reason=REASON_DEADLINE_EXCEEDED, message=MESSAGE_DEADLINE_EXCEEDED
            )
        else:
            self._publish(final=True)

    async def _prepare_volumes(self) -> bool:
        """Host directories and files of the pod's volumes (exec mode, ``volumes``); False
        when the pod cannot start (its status says why) or was stopped while waiting."""
        self._volumes = plan_volumes(
            self.pod, volumes_root=self._settings.work_dir / "volumes", pod_dir=self.pod_dir
        )
        try:
            ready = await materialise(
                self._api, namespace=self.namespace, volumes=self._volumes, stopped=self._stopped
            )
        except (specs.SpecError, KubeError, OSError) as exc:
            self._log.warning("pod_volumes_failed", error=str(exc))
            self._fail_remaining(
                f"volumes: {exc}", reason=REASON_START_ERROR, exit_code=START_ERROR_EXIT_CODE
            )
            return False
        if not ready:
            self._fail_remaining("")
        return ready

    async def _start_sidecar(
        self,
        record: ContainerRecord,
        container: Mapping[str, Any],
        plan: specs.AnnotationPlan | None,
    ) -> asyncio.Task[None]:
        """Start a sidecar (restarted whatever its exit code until the containers are done);
        return once it started, failed to start, or the pod stops."""
        started = self._started[record.name] = asyncio.Event()
        task = asyncio.create_task(
            self._run_container(
                record, container, plan, stopped=self._sidecars_stopped, sidecar=True
            )
        )
        waiter = asyncio.create_task(started.wait())
        stopper = asyncio.create_task(self._stopped.wait())
        try:
            await asyncio.wait({waiter, stopper, task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            stopper.cancel()
        return task

    async def _run_container(
        self,
        record: ContainerRecord,
        container: Mapping[str, Any],
        plan: specs.AnnotationPlan | None,
        *,
        stopped: asyncio.Event,
        sidecar: bool = False,
    ) -> None:
        """Run one container until it succeeds, fails for good, or ``stopped`` is set."""
        while not stopped.is_set():
            if sidecar and plan is not None:
                await self._idle_sidecar(record, stopped)
            elif plan is not None:
                await self._follow_plan(record, plan, stopped)
            else:
                await self._exec(record, container, stopped)
            assert record.terminated is not None
            code = record.terminated.exit_code
            restart = (
                sidecar
                or self._restart_policy == "Always"
                or (self._restart_policy == "OnFailure" and code != 0)
            )
            if not restart or stopped.is_set():
                return
            delay = min(
                self._settings.restart_backoff_base_s * 2**record.restart_count,
                self._settings.restart_backoff_max_s,
            )
            record.back_off(delay_s=delay)
            self._publish()
            self._log.info(
                "container_restart_backoff",
                container=record.name,
                delay_s=delay,
                exit_code=code,
                restart_count=record.restart_count,
            )
            if await self._sleep_or_stop(delay, stopped):
                return

    def _mark_started(self, record: ContainerRecord, *, container_id: str) -> None:
        record.start(container_id=container_id, now=self._clock())
        if (started := self._started.get(record.name)) is not None:
            started.set()

    def _open_log(self, record: ContainerRecord) -> ContainerLog:
        return self._logs.open(
            namespace=self.namespace,
            pod=self.name,
            uid=self.uid,
            container=record.name,
            instance=record.restart_count,
        )

    async def _idle_sidecar(self, record: ContainerRecord, stopped: asyncio.Event) -> None:
        """An annotation-driven sidecar runs nothing and lasts until it is stopped."""
        output = self._open_log(record)
        self._mark_started(record, container_id=f"zenflow://{self.uid}/{record.name}")
        self._publish()
        try:
            await stopped.wait()
        finally:
            output.finish()
        record.finish(exit_code=SIGTERM_EXIT_CODE, message="", now=self._clock())

    async def _follow_plan(
        self, record: ContainerRecord, plan: specs.AnnotationPlan, stopped: asyncio.Event
    ) -> None:
        output = self._open_log(record)
        self._mark_started(
            record, container_id=f"zenflow://{self.uid}/{record.name}/{record.restart_count}"
        )
        try:
            output.write("stdout", plan.log.encode())
            if plan.duration_s > 0:
                self._publish()
                if await self._sleep_or_stop(plan.duration_s, stopped):
                    record.finish(exit_code=SIGTERM_EXIT_CODE, message="", now=self._clock())
                    return
        finally:
            output.finish()
        record.finish(exit_code=plan.exit_code, message=plan.message, now=self._clock())
        self._log.info(
            "container_finished",
            container=record.name,
            exit_code=plan.exit_code,
            mode="annotations",
        )

    async def _exec(
        self, record: ContainerRecord, container: Mapping[str, Any], stopped: asyncio.Event
    ) -> None:
        paths = ExecPaths.for_container(pod_dir=self.pod_dir, name=record.name)
        try:
            argv, env = await prepare(
                api=self._api,
                pod=self.pod,
                container=container,
                paths=paths,
                mounts=container_mounts(container, self._volumes),
            )
        except (specs.SpecError, KubeError) as exc:
            self._start_failed(record, f"container {record.name}: {exc}")
            return
        output = self._open_log(record)
        try:
            process = await LocalProcess.start(argv=argv, env=env, cwd=paths.cwd, output=output)
        except OSError as exc:
            output.finish()
            self._start_failed(record, f"failed to start {argv[0]!r}: {exc.strerror or exc}")
            return
        self._processes[record.name] = process
        self._mark_started(record, container_id=f"zenflow://{process.pid}")
        self._publish()
        self._log.info("container_started", container=record.name, pid=process.pid)
        try:
            code = await run_to_exit(
                process=process, stopped=stopped, grace_s=lambda: self._grace_s
            )
        finally:
            del self._processes[record.name]
            output.finish()
        message = collect_message(
            container=container, paths=paths, log_path=output.path, exit_code=code
        )
        record.finish(exit_code=code, message=message, now=self._clock())
        self._log.info("container_finished", container=record.name, exit_code=code)

    # --- helpers ----------------------------------------------------------------------------

    def _start_failed(self, record: ContainerRecord, message: str) -> None:
        self._log.warning("container_start_failed", container=record.name, message=message)
        record.started_at = None
        record.finish(
            exit_code=START_ERROR_EXIT_CODE,
            message=message,
            now=self._clock(),
            reason=REASON_START_ERROR,
        )

    def _fail_remaining(
        self, message: str, *, reason: str = "", exit_code: int | None = None
    ) -> None:
        """Terminate every record that is not terminated: by default never-started ones as the
        kubelet reports them (137, ContainerStatusUnknown), running ones as SIGTERMed (143)."""
        for record in [*self.init, *self.main]:
            if record.state == "terminated":
                continue
            if record.state == "waiting" and record.last_terminated is not None:
                # Stopped during a restart backoff: the last failure is the final state.
                record.state, record.terminated = "terminated", record.last_terminated
                record.last_terminated = None
                record.restart_count -= 1
                continue
            default_code = UNKNOWN_EXIT_CODE if record.state == "waiting" else SIGTERM_EXIT_CODE
            record.finish(
                exit_code=default_code if exit_code is None else exit_code,
                message=message or "The container could not be located when the pod was terminated",
                now=self._clock(),
                reason=reason or "ContainerStatusUnknown",
            )

    def _publish(self, *, final: bool = False, reason: str = "", message: str = "") -> None:
        status = build_status(
            pod=self.pod,
            init=self.init,
            main=self.main,
            start_time=self.start_time,
            now=self._clock(),
            final=final,
            reason=reason,
            message=message,
        )
        self._writer.publish(status)

    async def _sleep_or_stop(self, seconds: float, stopped: asyncio.Event) -> bool:
        """Sleep; True when ``stopped`` was set meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopped.wait(), timeout=seconds)
        return stopped.is_set()

    def _arm_deadline(self) -> asyncio.TimerHandle | None:
        seconds = self.pod.get("spec", {}).get("activeDeadlineSeconds")
        if seconds is None:
            return None
        grace = self.pod.get("spec", {}).get("terminationGracePeriodSeconds")
        return asyncio.get_running_loop().call_later(
            float(seconds),
            lambda: self.request_stop(
                "deadline", grace_s=float(grace) if grace is not None else DEFAULT_GRACE_S
            ),
        )

    async def _delete(self) -> None:
        try:
            await self._api.delete_pod_now(namespace=self.namespace, name=self.name, uid=self.uid)
            self._log.info("pod_deleted")
        except NotFoundError:
            pass
        except KubeError as exc:
            self._log.warning("pod_delete_failed", error=str(exc))
