"""Benchmark: JobFlow throughput, API writes per step and controller memory on the local control
plane (targets: 200 flows x 10 steps at >= 100 steps/s, <= 2.5 API writes per step, RSS <= 150 MB
with 5,000 JobFlows cached).

Each flow is a 10-step fan-out/fan-in (1 -> 8 -> 1); pods finish at once (node agent annotation
mode). All flows are created together; the time runs from the first create to the last flow
Succeeded, as the controller's own cache sees it. API requests are the controller's own
(counted per method by its ``ThrottledApiClient``); Event creations are shown separately.
``--cache N`` additionally creates N suspended flows (no Jobs) and reports the controller's RSS
once they are all cached and their status written; with ``--only-cache`` nothing else runs in
that process first, so the figure is not inflated by the batches' Jobs and allocator high-water.

Run: ``.venv/bin/python -m benchmarks.throughput [--flows 50] [--flows 200] [--cache 5000]
[--qps Q --burst B]``. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from benchmarks import harness

NAMESPACE = "default"
STEPS_PER_FLOW = 10


def fan_flow(name: str) -> dict[str, Any]:
    mids = [f"m{i}" for i in range(STEPS_PER_FLOW - 2)]
    steps = [harness.step("start")]
    steps += [harness.step(m, ["start"]) for m in mids]
    steps.append(harness.step("end", mids))
    return harness.flow(name, steps)


async def batch(
    ctl: harness.RunningController,
    objects: Any,
    *,
    flows: int,
    tag: str,
    pids: dict[str, int] | None = None,
) -> dict[str, Any]:
    names = {f"{tag}-{i}" for i in range(flows)}
    writes_before = ctl.writes()
    requests_before = ctl.requests()
    events_before = ctl.probe.events
    cpu_before = time.process_time()
    others_before = harness.cpu_seconds(pids or {})
    began = time.perf_counter()
    await harness.create_flows(objects, NAMESPACE, [fan_flow(n) for n in sorted(names)])

    def done() -> bool:
        counts = harness.phases(ctl.flows(), names)
        return counts.get("Succeeded", 0) + counts.get("Failed", 0) == flows

    await harness.wait_until(done, within=120 + flows * 5, every=0.1)
    elapsed = time.perf_counter() - began
    cpu = time.process_time() - cpu_before
    others = {n: t - others_before.get(n, 0.0) for n, t in harness.cpu_seconds(pids or {}).items()}
    probe = ctl.probe
    in_kube = [
        probe.finished[k] - probe.created[k]
        for k in probe.created
        if k[0] in names and k in probe.finished
    ]
    # Let trailing writes (final Events) land before counting.
    await asyncio.sleep(1.0)
    writes = {m: n - writes_before[m] for m, n in ctl.writes().items()}
    reads = {
        m: n - requests_before.get(m, 0)
        for m, n in ctl.requests().items()
        if m not in harness.WRITE_METHODS
    }
    steps = flows * STEPS_PER_FLOW
    return {
        "flows": flows,
        "steps": steps,
        "seconds": elapsed,
        "phases": harness.phases(ctl.flows(), names),
        "writes": writes,
        "events": ctl.probe.events - events_before,
        "reads": reads,
        "rss_mb": harness.rss_mb(),
        "cpu_s": cpu,
        "plane_cpu_s": others,
        "job_seconds": in_kube,
    }


async def cache_rss(ctl: harness.RunningController, objects: Any, *, flows: int) -> dict[str, Any]:
    names = {f"cached-{i}" for i in range(flows)}
    bodies = []
    for name in sorted(names):
        body = fan_flow(name)
        body["spec"]["suspend"] = True
        bodies.append(body)
    began = time.perf_counter()
    await harness.create_flows(objects, NAMESPACE, bodies)

    def all_suspended() -> bool:
        return harness.phases(ctl.flows(), names).get("Suspended", 0) == flows

    await harness.wait_until(all_suspended, within=600, every=0.5)
    return {
        "flows": flows,
        "cached_total": len(ctl.flows()),
        "seconds": time.perf_counter() - began,
        "rss_mb": harness.rss_mb(),
    }


async def measure(
    plane: Any, *, sizes: list[int], cache: int, qps: float | None, burst: int | None
) -> dict[str, Any]:
    async with (
        harness.running_controller(plane, qps=qps, burst=burst) as ctl,
        harness.user_client(plane) as objects,
    ):
        results = [
            await batch(ctl, objects, flows=n, tag=f"tp{n}", pids=plane.processes) for n in sizes
        ]
        cached = await cache_rss(ctl, objects, flows=cache) if cache else None
        return {
            "batches": results,
            "cache": cached,
            "qps": ctl.settings.qps,
            "burst": ctl.settings.burst,
            "workers": ctl.settings.workers,
        }


def report(result: dict[str, Any]) -> list[str]:
    lines = [
        f"Throughput, {STEPS_PER_FLOW}-step fan-out/fan-in flows (controller: "
        f"{result['workers']} workers, client qps {result['qps']:g}, burst {result['burst']}; "
        "targets >= 100 steps/s at 200 x 10, <= 2.5 writes/step)"
    ]
    for b in result["batches"]:
        writes = b["writes"]
        total = sum(writes.values())
        per_step = total / b["steps"]
        without_events = (total - b["events"]) / b["steps"]
        detail = ", ".join(f"{m} {n}" for m, n in writes.items() if n)
        lines += [
            f"  {b['flows']:>4} flows x {STEPS_PER_FLOW}: {b['steps'] / b['seconds']:6.1f} steps/s "
            f"({b['seconds']:.1f} s; phases {b['phases']})",
            f"      API writes/step {per_step:.2f} ({without_events:.2f} without Events); "
            f"writes: {detail}; Events {b['events']}; reads {b['reads']}",
            f"      controller CPU {b['cpu_s'] / b['steps'] * 1000:.1f} ms/step "
            f"({b['cpu_s'] / b['seconds'] * 100:.0f}% of one core); controller RSS "
            f"{b['rss_mb']:.0f} MiB",
            "      CPU during the batch (s): "
            + ", ".join(
                f"{n} {t:.0f}" for n, t in [("controller", b["cpu_s"]), *b["plane_cpu_s"].items()]
            )
            + f" of {b['seconds'] * harness.CPUS:.0f} available",
            f"      Job created -> seen finished (Job controller + node agent): p50 "
            f"{harness.percentile(b['job_seconds'], 50):.2f} s, p99 "
            f"{harness.percentile(b['job_seconds'], 99):.2f} s",
        ]
    cache = result["cache"]
    if cache:
        lines.append(
            f"  RSS with {cache['cached_total']} JobFlows cached: {cache['rss_mb']:.0f} MiB "
            f"(target <= 150 MB with 5,000; {cache['flows']} suspended flows created and "
            f"reconciled in {cache['seconds']:.0f} s)"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--flows", type=int, action="append", help="flows per batch (repeatable)")
    parser.add_argument("--cache", type=int, default=0, help="suspended flows for the RSS figure")
    parser.add_argument(
        "--only-cache", action="store_true", help="skip the throughput batches (clean RSS figure)"
    )
    parser.add_argument("--qps", type=float, default=None, help="controller client QPS")
    parser.add_argument("--burst", type=int, default=None, help="controller client burst")
    args = parser.parse_args()
    with harness.control_plane() as plane:
        result = asyncio.run(
            measure(
                plane,
                sizes=[] if args.only_cache else (args.flows or [50]),
                cache=args.cache,
                qps=args.qps,
                burst=args.burst,
            )
        )
    print("\n".join(report(result)))


if __name__ == "__main__":
    main()
