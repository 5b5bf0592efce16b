"""Shared pieces of the controller benchmarks: a local control plane whose node agent completes
pods at once (annotation mode), the real controller wiring (``setup_controllers``) running
in-process, and instrumentation read from the controller's side.

The controller runs exactly as ``zenflow controller`` builds it (throttled ApiClient, informers,
manager, JobFlow and CronJobFlow controllers, event recorder), minus leader election. Two hooks
observe it without changing it:

- a second event handler on the Job informer notes the monotonic time at which the controller's
  cache first shows each Job finished (the same ``apply`` call that queues the flow's key);
- the flow client's ``create_job``/``create_event`` are wrapped to note when each step's Job was
  created (the POST answered) and to count Event writes.

API requests are counted by the controller's own ``ThrottledApiClient`` (per HTTP method).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client
from prometheus_client import CollectorRegistry

from zenflow.api.constants import GROUP, JOBFLOW_PLURAL, LABEL_JOBFLOW, LABEL_STEP, VERSION
from zenflow.controller.bootstrap import build_manager, new_controller_api_client
from zenflow.controller.settings import ControllerSettings
from zenflow.controller.setup import JobFlowController, setup_controllers
from zenflow.envtest import ControlPlane
from zenflow.kube.client import load_configuration, new_api_client
from zenflow.kube.throttle import ThrottledApiClient
from zenflow.logging import configure_logging

REPO = Path(__file__).resolve().parent.parent
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")

StepKey = tuple[str, str]  # (flow name, step name)


@contextlib.contextmanager
def control_plane() -> Iterator[ControlPlane]:
    """A control plane whose pods finish at once (exit 0, no process run), CRDs installed."""
    plane = ControlPlane(node_agent=True, node_agent_mode="annotations")
    plane.start()
    try:
        plane.install_crds(REPO / "crds")
        yield plane
    finally:
        plane.stop()


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {mem_kb / 1024 / 1024:.1f} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def rss_mb() -> float:
    """Resident set size of this process (the in-process controller) in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


CPUS = os.cpu_count() or 1


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """User + system CPU seconds used so far by each named process (and its reaped children)."""
    ticks = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = {}
    for name, pid in pids.items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command: state=0 ... utime=11, stime=12, cutime=13, cstime=14.
        used[name] = sum(int(f) for f in fields[11:15]) / ticks
    return used


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, int(-(-q * len(ordered) // 100)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class Probe:
    """What the hooks saw: Job finished (cache) and Job created (POST answered) per step."""

    finished: dict[StepKey, float] = field(default_factory=dict)
    create_sent: dict[StepKey, float] = field(default_factory=dict)
    created: dict[StepKey, float] = field(default_factory=dict)
    events: int = 0

    def on_job(self, obj: dict[str, Any]) -> None:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        key = (labels.get(LABEL_JOBFLOW, ""), labels.get(LABEL_STEP, ""))
        if key in self.finished:
            return
        for cond in (obj.get("status") or {}).get("conditions") or []:
            if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
                self.finished[key] = time.perf_counter()
                return


@dataclass
class RunningController:
    wiring: JobFlowController
    api: ThrottledApiClient
    probe: Probe
    settings: ControllerSettings

    def writes(self) -> dict[str, int]:
        return {m: self.api.requests.get(m, 0) for m in WRITE_METHODS}

    def requests(self) -> dict[str, int]:
        return dict(self.api.requests)

    def flows(self) -> list[dict[str, Any]]:
        return self.wiring.informers.jobflows.store.list()


def _instrument(wiring: JobFlowController, probe: Probe) -> None:
    flow_client = wiring.client
    create_job = flow_client.create_job
    create_event = flow_client.create_event

    async def timed_create_job(manifest: dict[str, Any], *, flow_uid: str) -> Any:
        labels = manifest["metadata"].get("labels") or {}
        key = (labels.get(LABEL_JOBFLOW, ""), labels.get(LABEL_STEP, ""))
        probe.create_sent.setdefault(key, time.perf_counter())
        outcome = await create_job(manifest, flow_uid=flow_uid)
        probe.created.setdefault(key, time.perf_counter())
        return outcome

    async def counted_create_event(*, namespace: str, event: dict[str, Any]) -> None:
        probe.events += 1
        await create_event(namespace=namespace, event=event)

    flow_client.create_job = timed_create_job  # type: ignore[method-assign]
    flow_client.create_event = counted_create_event  # type: ignore[method-assign]
    wiring.informers.jobs.add_event_handler(
        on_add=probe.on_job, on_update=lambda _old, new: probe.on_job(new)
    )


@contextlib.asynccontextmanager
async def running_controller(
    plane: ControlPlane, *, workers: int = 4, qps: float | None = None, burst: int | None = None
) -> AsyncIterator[RunningController]:
    """The controller wired as ``zenflow controller`` does, in this process, until exit."""
    configure_logging("warning", "json")
    overrides: dict[str, Any] = {}
    if qps is not None:
        overrides["qps"] = qps
    if burst is not None:
        overrides["burst"] = burst
    settings = ControllerSettings(
        kubeconfig=str(plane.kubeconfig_path),
        leader_election=False,
        http_host="127.0.0.1",
        http_port=0,
        workers=workers,
        **overrides,
    )
    cfg = await load_configuration(settings.kubeconfig)
    registry = CollectorRegistry()
    api = new_controller_api_client(cfg, settings, registry=registry)
    manager = build_manager(settings, api, registry=registry)
    wiring = setup_controllers(manager, settings, api)
    probe = Probe()
    _instrument(wiring, probe)
    task = asyncio.create_task(manager.run())
    try:
        async with asyncio.timeout(60):
            await manager.leader_started.wait()
        yield RunningController(wiring, api, probe, settings)
    finally:
        manager.stop()
        await task


@contextlib.asynccontextmanager
async def user_client(plane: ControlPlane) -> AsyncIterator[client.CustomObjectsApi]:
    """An admin client for creating flows (its requests are not the controller's)."""
    api = new_api_client(await load_configuration(str(plane.kubeconfig_path)), pool_size=32)
    try:
        yield client.CustomObjectsApi(api)
    finally:
        await api.close()


async def create_flows(
    objects: client.CustomObjectsApi, namespace: str, flows: list[dict[str, Any]]
) -> None:
    limit = asyncio.Semaphore(16)

    async def one(body: dict[str, Any]) -> None:
        async with limit:
            await objects.create_namespaced_custom_object(
                GROUP, VERSION, namespace, JOBFLOW_PLURAL, body
            )

    await asyncio.gather(*(one(f) for f in flows))


async def wait_until(done: Callable[[], bool], *, within: float, every: float = 0.05) -> None:
    async with asyncio.timeout(within):
        # Polling a cache the informer updates; no event to wait on.
        while not done():  # noqa: ASYNC110
            await asyncio.sleep(every)


def flow(name: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "JobFlow",
        "metadata": {"name": name},
        "spec": {"steps": steps},
    }


def step(name: str, deps: list[str] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "dependencies": deps or [],
        "run": {"image": "busybox:1.36", "command": ["true"]},
    }


def phases(flows: list[dict[str, Any]], names: set[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for obj in flows:
        if obj["metadata"]["name"] in names:
            phase = (obj.get("status") or {}).get("phase") or "Pending"
            counts[phase] = counts.get(phase, 0) + 1
    return counts


Runner = Callable[[], Awaitable[dict[str, Any]]]
