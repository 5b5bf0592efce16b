"""Benchmark: JobFlow throughput, controller API writes and CPU per step, and how soon Events are
stored, on the local control plane (targets at 200 flows x 10 steps: <= 2.0 controller writes
per step including Events, <= 3 ms of controller CPU per step, every Event stored within 5 s of
its flow's end).

Each flow is a 10-step fan-out/fan-in (1 -> 8 -> 1); pods finish at once (node agent annotation
mode). All flows are created together; the batch's time runs from the first create to the last
flow Succeeded, as the controller's own cache sees it. Then the benchmark waits until the Event
recorder has nothing left to write (at most two minutes) before counting: API writes are the
controller's own (per method, by its throttled clients, the Event recorder's included), Event
writes (creates and merge patches) are shown apart, and the *Event lag* of a flow is from the
moment the controller's cache showed it finished to the last Event write about it answered.
Controller CPU is this process's CPU time over the same span: the controller runs in-process,
so the figure also holds the harness's probe (handlers on every Job, pod and flow event), its
flow client and its polling; the CPU target is judged on ``benchmarks.controller_cpu`` (the
controller a process of its own).

Run: ``.venv/bin/python -m benchmarks.throughput [--flows 50] [--flows 200] [--qps Q --burst B]``.
Prints figures; asserts nothing. (The memory figures are ``benchmarks.memory``.)
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from benchmarks import harness
from zenflow.cli import eventloop

NAMESPACE = "default"
STEPS_PER_FLOW = 10
EVENT_WAIT_S = 120.0


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
    times_before = os.times()
    others_before = harness.cpu_seconds(pids or {})
    began = time.perf_counter()
    await harness.create_flows(objects, NAMESPACE, [fan_flow(n) for n in sorted(names)])

    def done() -> bool:
        # The probe notes each flow's end as the cache shows it: polling that, not a scan of the
        # whole cache every 0.1 s, keeps the harness's own CPU (counted as the controller's) low.
        return sum(n in ctl.probe.flow_done for n in names) == flows

    await harness.wait_until(done, within=120 + flows * 5, every=0.1)
    elapsed = time.perf_counter() - began
    others = {n: t - others_before.get(n, 0.0) for n, t in harness.cpu_seconds(pids or {}).items()}
    ended = time.perf_counter()
    try:
        await harness.wait_until(ctl.events_idle, within=EVENT_WAIT_S, every=0.1)
        events_settled = time.perf_counter() - ended
    except TimeoutError:
        events_settled = None
    cpu = time.process_time() - cpu_before
    times_after = os.times()
    cpu_user = times_after.user - times_before.user
    cpu_system = times_after.system - times_before.system
    probe = ctl.probe
    in_kube = [
        probe.decided[k] - probe.created[k]
        for k in probe.created
        if k[0] in names and k in probe.decided
    ]
    lags = [
        probe.event_written[n] - probe.flow_done[n]
        for n in names
        if n in probe.flow_done and n in probe.event_written
    ]
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
        "writes_per_step": sum(writes.values()) / steps,
        "events": ctl.probe.events - events_before,
        "events_settled_s": events_settled,
        "event_lag_s": {
            "p50": harness.percentile(lags, 50) if lags else None,
            "max": max(lags) if lags else None,
            "flows": len(lags),
        },
        "reads": reads,
        "rss_mb": harness.rss_mb(),
        "cpu_s": cpu,
        "cpu_ms_per_step": cpu / steps * 1000,
        "cpu_user_s": cpu_user,
        "cpu_system_s": cpu_system,
        "plane_cpu_s": others,
        "decided_after_create_s": in_kube,
    }


async def measure(
    plane: Any, *, sizes: list[int], qps: float | None, burst: int | None
) -> dict[str, Any]:
    async with (
        harness.running_controller(plane, qps=qps, burst=burst) as ctl,
        harness.user_client(plane) as objects,
    ):
        results = [
            await batch(ctl, objects, flows=n, tag=f"tp{n}", pids=plane.processes) for n in sizes
        ]
        return {
            "batches": results,
            "qps": ctl.settings.qps,
            "burst": ctl.settings.burst,
            "event_qps": getattr(ctl.settings, "event_qps", None),
            "workers": ctl.settings.workers,
        }


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def report(result: dict[str, Any]) -> list[str]:
    lines = [
        f"Throughput, {STEPS_PER_FLOW}-step fan-out/fan-in flows (controller: "
        f"{result['workers']} workers, client qps {result['qps']:g}, burst {result['burst']}, "
        f"Event qps {result['event_qps']}; targets at 200 x 10: <= 2.0 writes/step incl. Events, "
        "<= 3 ms CPU/step, Events stored <= 5 s after each flow's end)"
    ]
    for b in result["batches"]:
        writes = b["writes"]
        total = sum(writes.values())
        without_events = (total - b["events"]) / b["steps"]
        detail = ", ".join(f"{m} {n}" for m, n in writes.items() if n)
        lag = b["event_lag_s"]
        settled = _seconds(b["events_settled_s"])
        lines += [
            f"  {b['flows']:>4} flows x {STEPS_PER_FLOW}: {b['steps'] / b['seconds']:6.1f} steps/s "
            f"({b['seconds']:.1f} s; phases {b['phases']})",
            f"      API writes/step {b['writes_per_step']:.2f} ({without_events:.2f} without "
            f"Events); writes: {detail}; Event writes {b['events']}; reads {b['reads']}",
            f"      Events: all stored {settled} after the last flow ended; per flow, last Event "
            f"write after its end p50 {_seconds(lag['p50'])}, max {_seconds(lag['max'])}",
            f"      CPU in-process (controller + harness) {b['cpu_ms_per_step']:.1f} ms/step (user "
            f"{b['cpu_user_s'] * 1000 / b['steps']:.1f}, system "
            f"{b['cpu_system_s'] * 1000 / b['steps']:.1f}); process RSS "
            f"{b['rss_mb']:.0f} MiB (controller + harness)",
            "      CPU during the batch (s): "
            + ", ".join(
                f"{n} {t:.0f}" for n, t in [("controller", b["cpu_s"]), *b["plane_cpu_s"].items()]
            )
            + f" of {b['seconds'] * harness.CPUS:.0f} available",
        ]
        if b["decided_after_create_s"]:
            lines.append(
                f"      Job created -> step decided seen (Job controller + node agent): p50 "
                f"{harness.percentile(b['decided_after_create_s'], 50):.2f} s, p99 "
                f"{harness.percentile(b['decided_after_create_s'], 99):.2f} s"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--flows", type=int, action="append", help="flows per batch (repeatable)")
    parser.add_argument("--qps", type=float, default=None, help="controller client QPS")
    parser.add_argument("--burst", type=int, default=None, help="controller client burst")
    args = parser.parse_args()
    with harness.control_plane() as plane:
        result = eventloop.run(
            measure(plane, sizes=args.flows or [50], qps=args.qps, burst=args.burst)
        )
    print("\n".join(report(result)))


if __name__ == "__main__":
    main()
