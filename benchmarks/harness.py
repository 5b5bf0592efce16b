"""Shared pieces of the controller benchmarks: a local control plane whose node agent completes
pods at once (annotation mode), the real controller wiring (``setup_controllers``) running
in-process, and instrumentation read from the controller's side.

The controller runs exactly as ``zenflow controller`` builds it (throttled API clients,
informers, manager, JobFlow and CronJobFlow controllers, event recorder), minus leader election.
Hooks observe it without changing it:

- extra event handlers on the Job (and, when the controller has one, pod) informer note the
  monotonic time at which the controller's caches first show each step *decided*: its Job
  ``Complete``/``Failed`` or an interim ``SuccessCriteriaMet``/``FailureTarget`` condition, or
  its pod ``Succeeded`` (the same ``apply`` call that queues the flow's key);
- a handler on the flow informer notes when each flow is first seen finished;
- the flow client's ``create_job`` is wrapped to note when each step's Job was created (the
  POST answered), and the Event sink to note when each Event write was answered, per flow.

API requests are counted by the controller's own throttled clients (per HTTP method), the
Event recorder's client included. The harness's own requests (creating flows) use a separate
client on zenflow's raw-JSON request helper, counted nowhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import sysconfig
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from zenflow.api.constants import GROUP, JOBFLOW_PLURAL, LABEL_JOBFLOW, LABEL_STEP, VERSION
from zenflow.controller.bootstrap import build_manager, new_controller_api_client
from zenflow.controller.settings import ControllerSettings
from zenflow.controller.setup import JobFlowController, setup_controllers
from zenflow.envtest import ControlPlane
from zenflow.kube.connection import HttpTransport
from zenflow.kube.kubeconfig import load_kube_config
from zenflow.kube.rest import Rest
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
        f"{platform.system()} {platform.release()}, Python {platform.python_version()} "
        f"({interpreter_build()})"
    )


def interpreter_build() -> str:
    """How this CPython was compiled, as far as it changes speed: profile-guided and link-time
    optimisation (the official images' builds have both; pyenv's default build neither)."""
    args = str(sysconfig.get_config_var("CONFIG_ARGS") or "")
    pgo = "--enable-optimizations" in args
    lto = "--with-lto" in args
    if pgo and lto:
        return "PGO+LTO build"
    if pgo or lto:
        return "PGO build" if pgo else "LTO build"
    return "no PGO/LTO"


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


DECIDING_CONDITIONS = ("Complete", "Failed", "SuccessCriteriaMet", "FailureTarget")


def _step_key(obj: dict[str, Any]) -> StepKey:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return (labels.get(LABEL_JOBFLOW, ""), labels.get(LABEL_STEP, ""))


@dataclass
class Probe:
    """What the hooks saw (``time.perf_counter`` instants in the controller process)."""

    decided: dict[StepKey, float] = field(default_factory=dict)
    """Step → first moment the caches showed its outcome decided."""
    create_sent: dict[StepKey, float] = field(default_factory=dict)
    created: dict[StepKey, float] = field(default_factory=dict)
    flow_done: dict[str, float] = field(default_factory=dict)
    """Flow → first moment the flow cache showed it Succeeded or Failed."""
    event_written: dict[str, float] = field(default_factory=dict)
    """Flow → when the last Event write about it was answered."""
    events: int = 0
    """Event writes answered (creates and patches)."""

    def on_job(self, obj: dict[str, Any]) -> None:
        key = _step_key(obj)
        if key in self.decided:
            return
        for cond in (obj.get("status") or {}).get("conditions") or []:
            if cond.get("type") in DECIDING_CONDITIONS and cond.get("status") == "True":
                self.decided[key] = time.perf_counter()
                return

    def on_pod(self, obj: dict[str, Any]) -> None:
        """A pod from the succeeded-pods watch (whole, or its metadata only: then succeeded)."""
        key = _step_key(obj)
        status = obj.get("status")
        if key not in self.decided and (status is None or status.get("phase") == "Succeeded"):
            self.decided[key] = time.perf_counter()

    def on_flow(self, obj: dict[str, Any]) -> None:
        name = (obj.get("metadata") or {}).get("name", "")
        if name not in self.flow_done and (obj.get("status") or {}).get("phase") in (
            "Succeeded",
            "Failed",
        ):
            self.flow_done[name] = time.perf_counter()

    def event_answered(self, flow: str) -> None:
        self.events += 1
        self.event_written[flow] = time.perf_counter()


@dataclass
class RunningController:
    wiring: JobFlowController
    api: HttpTransport
    probe: Probe
    settings: ControllerSettings

    def clients(self) -> list[HttpTransport]:
        """The controller's API clients (the Event recorder's has its own rate limit)."""
        events_api = getattr(self.wiring, "events_api", None)
        return [self.api, *([events_api] if events_api not in (None, self.api) else [])]

    def requests(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for api in self.clients():
            for method, n in api.requests.items():
                out[method] = out.get(method, 0) + n
        return out

    def writes(self) -> dict[str, int]:
        requests = self.requests()
        return {m: requests.get(m, 0) for m in WRITE_METHODS}

    def flows(self) -> list[dict[str, Any]]:
        return self.wiring.informers.jobflows.store.list()

    def events_idle(self) -> bool:
        """No Event recorded and not yet written."""
        recorder: Any = self.wiring.recorder
        if hasattr(recorder, "idle"):
            return bool(recorder.idle())
        queue = recorder._queue  # the recorder before issue 11: one queue, one writer
        return bool(queue.empty() and queue._unfinished_tasks == 0)


def _instrument(wiring: JobFlowController, probe: Probe) -> None:
    flow_client = wiring.client
    create_job = flow_client.create_job

    async def timed_create_job(manifest: dict[str, Any], *, flow_uid: str) -> Any:
        key = _step_key(manifest)
        probe.create_sent.setdefault(key, time.perf_counter())
        outcome = await create_job(manifest, flow_uid=flow_uid)
        probe.created.setdefault(key, time.perf_counter())
        return outcome

    flow_client.create_job = timed_create_job  # type: ignore[method-assign]
    _instrument_events(wiring, probe)
    wiring.informers.jobs.add_event_handler(
        on_add=probe.on_job, on_update=lambda _old, new: probe.on_job(new)
    )
    pods = getattr(wiring, "pods", None)  # the pod watch (issue 11), absent before
    if pods is not None:
        pods.add_handler(lambda _type, pod: probe.on_pod(pod))
    wiring.informers.jobflows.add_event_handler(
        on_add=probe.on_flow, on_update=lambda _old, new: probe.on_flow(new)
    )


def _instrument_events(wiring: JobFlowController, probe: Probe) -> None:
    sink: Any = getattr(wiring.recorder, "_sink", None)
    if not hasattr(sink, "patch_event"):  # before issue 11: Events were created by the flow client
        sink = wiring.client
    create_event = sink.create_event
    patch_event = getattr(sink, "patch_event", None)

    async def counted_create(*, namespace: str, event: dict[str, Any]) -> None:
        await create_event(namespace=namespace, event=event)
        probe.event_answered(event["involvedObject"]["name"])

    async def counted_patch(*, namespace: str, name: str, patch: dict[str, Any]) -> None:
        assert patch_event is not None
        await patch_event(namespace=namespace, name=name, patch=patch)
        probe.event_answered(name.rsplit(".", 1)[0])

    sink.create_event = counted_create
    if patch_event is not None:
        sink.patch_event = counted_patch


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
    cfg = load_kube_config(settings.kubeconfig)
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
async def user_client(plane: ControlPlane) -> AsyncIterator[Rest]:
    """An admin client for creating flows (its requests are not the controller's)."""
    api = HttpTransport(load_kube_config(str(plane.kubeconfig_path)), pool_size=32)
    try:
        yield Rest(api, timeout=120)
    finally:
        await api.close()


def flows_path(namespace: str) -> str:
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{JOBFLOW_PLURAL}"


async def create_flows(objects: Rest, namespace: str, flows: list[dict[str, Any]]) -> None:
    limit = asyncio.Semaphore(16)

    async def one(body: dict[str, Any]) -> None:
        async with limit:
            await objects.create(flows_path(namespace), body)

    await asyncio.gather(*(one(f) for f in flows))


async def list_all(objects: Rest, path: str, **query: str) -> list[dict[str, Any]]:
    """Every item of a collection (paginated)."""
    items: list[dict[str, Any]] = []
    token = ""
    while True:
        params = [("limit", "500"), *query.items(), *([("continue", token)] if token else [])]
        page = await objects.get(path, params)
        items += page.get("items") or []
        token = (page.get("metadata") or {}).get("continue") or ""
        if not token:
            return items


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
