"""Benchmark: the controller's CPU per step, measured on a ``zenflow controller`` process of its
own (target at 200 flows x 10 steps: <= 3 ms, docs/BENCHMARKS.md).

The flows are ``benchmarks.throughput``'s (10-step fan-out/fan-in, pods end at once), created
together in a fresh namespace that the process alone watches (``--namespace``). The figure is
the process's CPU time (``/proc/<pid>/stat``, user + system) from just before the first create
until every flow is Succeeded *and* the process is idle again — its Event writes done: for
``QUIET_S`` seconds in a row no more CPU than its idle rate allows — less its idle rate over that
span (measured for ``IDLE_S`` before the creates). The harness is not in the figure, unlike in
the in-process throughput batches, whose probe and flow client share the controller's process.

``source`` runs the controller of another source tree: ``benchmarks.paired`` measures an older
revision beside this one in the same sitting.

Run: ``.venv/bin/python -m benchmarks.controller_cpu [--flows 200]``. Prints figures; asserts
nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

from benchmarks import harness, throughput
from benchmarks.harness import REPO
from benchmarks.process import ControllerProcess
from zenflow.cli import eventloop
from zenflow.kube.rest import Rest

IDLE_S = 5.0
QUIET_S = 4
TICK_S = 0.02
"""CPU beyond the idle rate a quiet second may show: two clock ticks of ``/proc`` accounting."""
SETTLE_WITHIN_S = 240.0


async def _create_namespace(objects: Rest, name: str) -> None:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    await objects.create("/api/v1/namespaces", namespace)


async def _succeeded(objects: Rest, namespace: str) -> int:
    flows = await harness.list_all(objects, harness.flows_path(namespace))
    return sum(1 for o in flows if (o.get("status") or {}).get("phase") == "Succeeded")


async def _until_quiet(proc: ControllerProcess, idle_rate: float) -> float:
    """Seconds until the process has been quiet ``QUIET_S`` seconds in a row (not counting
    them)."""
    began = time.monotonic()
    quiet, last = 0, proc.cpu_seconds()
    while quiet < QUIET_S:
        if time.monotonic() - began > SETTLE_WITHIN_S:
            raise TimeoutError(f"controller still busy {SETTLE_WITHIN_S:.0f} s after the flows")
        await asyncio.sleep(1.0)
        now = proc.cpu_seconds()
        quiet = quiet + 1 if now - last <= idle_rate + TICK_S else 0
        last = now
    return time.monotonic() - began - QUIET_S


async def measure(
    plane: Any, objects: Rest, *, flows: int, namespace: str, source: Path = REPO
) -> dict[str, Any]:
    """One batch of ``flows`` flows against a controller process of ``source``'s code."""
    await _create_namespace(objects, namespace)
    proc = ControllerProcess(plane, namespace=namespace, source=source)
    try:
        await asyncio.to_thread(proc.wait_ready)
        cpu, began = proc.cpu_seconds(), time.monotonic()
        await asyncio.sleep(IDLE_S)
        idle_rate = (proc.cpu_seconds() - cpu) / (time.monotonic() - began)
        requests_before = proc.requests()
        cpu, began = proc.cpu_seconds(), time.monotonic()
        bodies = [throughput.fan_flow(f"cpu-{i}") for i in range(flows)]
        await harness.create_flows(objects, namespace, bodies)
        deadline = began + 120 + flows * 5
        while await _succeeded(objects, namespace) < flows:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{flows} flows in {namespace} not all Succeeded")
            await asyncio.sleep(0.5)
        seconds = time.monotonic() - began
        settle = await _until_quiet(proc, idle_rate)
        used = proc.cpu_seconds() - cpu - idle_rate * (time.monotonic() - began)
        requests = proc.requests()
        writes = {
            m: requests.get(m, 0) - requests_before.get(m, 0)
            for m in harness.WRITE_METHODS
            if requests.get(m, 0) > requests_before.get(m, 0)
        }
        steps = flows * throughput.STEPS_PER_FLOW
        return {
            "source": str(source),
            "flows": flows,
            "steps": steps,
            "seconds": seconds,
            "settle_s": settle,
            "idle_ms_per_s": idle_rate * 1000,
            "cpu_s": used,
            "cpu_ms_per_step": used / steps * 1000,
            "writes": writes,
            "writes_per_step": sum(writes.values()) / steps,
            "peak_mb": proc.peak_mib(),
        }
    finally:
        await asyncio.to_thread(proc.stop)


def line(r: dict[str, Any]) -> str:
    return (
        f"  {r['flows']} flows x {throughput.STEPS_PER_FLOW}: controller CPU "
        f"{r['cpu_ms_per_step']:.2f} ms/step (flows done in {r['seconds']:.1f} s, idle again "
        f"{r['settle_s']:.1f} s later); API writes/step {r['writes_per_step']:.2f} "
        f"({r['writes']}); peak RSS {r['peak_mb']:.0f} MiB"
    )


def report(r: dict[str, Any]) -> list[str]:
    return [
        "Controller CPU per step, zenflow controller in a process of its own (target at 200 x 10:"
        " <= 3 ms; Event writes included, harness excluded)",
        line(r),
    ]


async def _main(plane: Any, flows: int) -> dict[str, Any]:
    async with harness.user_client(plane) as objects:
        return await measure(plane, objects, flows=flows, namespace="controller-cpu")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--flows", type=int, default=200)
    args = parser.parse_args()
    with harness.control_plane() as plane:
        result = eventloop.run(_main(plane, args.flows))
    print("\n".join(report(result)))


if __name__ == "__main__":
    main()
