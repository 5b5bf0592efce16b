"""Benchmark: scaling out with ``--sharding`` -- the same workload on 1, 2 and 3 active-active
replicas, and on one unsharded controller for reference.

Each run has a fresh local control plane of its own (so no run pays for the Jobs and pods of
the one before; pods finish at once: node agent annotation mode) and ``zenflow controller``
processes of its own (``benchmarks.process``: as the image runs them), each watching the run's
namespace and holding its Leases there. Once the sharder
counts every replica as a member (its ``zenflow_sharder_members`` gauge), 150 flows of 10 steps
(``benchmarks.throughput.fan_flow``) are created at once; the run ends when the API server
lists them all Succeeded (polled by the benchmark's own client: scraping the replicas'
``/metrics`` that often would cost them CPU). Figures per run: wall time and total
steps/s; per replica the flows it owned (``zenflow_shard_objects_owned``), its CPU time over
the run and per step of the whole workload, its RSS at the end and its peak RSS.

On a 2-core machine shared with the API server, etcd, the controller-manager and the node agent,
more replicas cannot add cores: the point is per-replica CPU and memory falling with the
replica count while the total is not worse (docs/BENCHMARKS.md, "Scaling out").

Run: ``.venv/bin/python -m benchmarks.sharding [--flows 150] [--replicas 1 2 3]`` or
``python -m benchmarks.run --sharding``. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import time
from pathlib import Path
from typing import Any

from benchmarks import harness
from benchmarks.process import ControllerProcess
from benchmarks.throughput import STEPS_PER_FLOW, fan_flow

LEASE = "zenflow-bench"


def gauge(text: str, name: str, labels: str = "") -> float:
    found = re.search(rf"^{name}{re.escape(labels)} (\S+)$", text, re.M)
    return float(found[1]) if found else 0.0


async def wait_members(procs: list[ControllerProcess], count: int, *, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if any(gauge(p.metrics(), "zenflow_sharder_members") == count for p in procs):
                return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"the sharder did not count {count} members")


async def wait_succeeded(objects: Any, namespace: str, flows: int, *, within: float) -> None:
    """Poll the API server (not the replicas' /metrics: rendering it costs them CPU)."""
    deadline = time.monotonic() + within
    while True:
        listed = await harness.list_all(objects, harness.flows_path(namespace))
        done = sum(1 for o in listed if (o.get("status") or {}).get("phase") == "Succeeded")
        if done >= flows:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"unfinished after {within:.0f} s")
        await asyncio.sleep(0.25)


async def run(plane: Any, objects: Any, *, replicas: int | None, flows: int) -> dict[str, Any]:
    """``replicas`` sharded processes (None: one unsharded controller)."""
    tag = f"sharded-{replicas}" if replicas else "unsharded"
    await objects.create("/api/v1/namespaces", {"metadata": {"name": tag}})
    election = (
        ["--leader-election", "--leader-election-namespace", tag, "--lease-name", LEASE,
         "--sharding"]
        if replicas
        else ["--no-leader-election"]
    )  # fmt: skip
    procs = [
        ControllerProcess(plane, namespace=tag, election=election) for _ in range(replicas or 1)
    ]
    try:
        for p in procs:
            p.wait_ready()
        if replicas:
            await wait_members(procs, replicas, within=120)
        cpu_before = [p.cpu_seconds() for p in procs]
        began = time.perf_counter()
        bodies = [fan_flow(f"{tag}-{i}") for i in range(flows)]
        await harness.create_flows(objects, tag, bodies)
        await wait_succeeded(objects, tag, flows, within=1800)
        seconds = time.perf_counter() - began
        steps = flows * STEPS_PER_FLOW
        per = []
        for p, before in zip(procs, cpu_before, strict=True):
            text = p.metrics()
            cpu = p.cpu_seconds() - before
            per.append(
                {
                    "owned": int(gauge(text, "zenflow_shard_objects_owned", '{kind="JobFlow"}'))
                    if replicas
                    else flows,
                    "cpu_s": cpu,
                    "cpu_ms_per_step": cpu / steps * 1000,
                    "rss_mb": p.rss_mib(),
                    "peak_mb": p.peak_mib(),
                    "alive": p.proc.poll() is None,
                }
            )
        return {"replicas": replicas, "flows": flows, "steps": steps, "seconds": seconds,
                "steps_per_s": steps / seconds, "per_replica": per}  # fmt: skip
    finally:
        for p in procs:
            p.stop()


def report(results: list[dict[str, Any]]) -> list[str]:
    lines = [
        f"Scaling out: {results[0]['flows']} flows x {STEPS_PER_FLOW} steps per run, "
        "each run on its own replicas (zenflow controller processes as the image runs them)",
        "  replicas      wall     steps/s   per replica: flows owned, CPU s (ms per step of "
        "the whole run), RSS / peak MiB",
    ]
    for r in results:
        label = f"{r['replicas']} sharded" if r["replicas"] else "1 unsharded"
        cells = "; ".join(
            f"{p['owned']}, {p['cpu_s']:.1f} s ({p['cpu_ms_per_step']:.2f}), "
            f"{p['rss_mb']:.0f} / {p['peak_mb']:.0f}" + ("" if p["alive"] else " (EXITED)")
            for p in r["per_replica"]
        )
        total_cpu = sum(p["cpu_s"] for p in r["per_replica"])
        lines.append(
            f"  {label:<12} {r['seconds']:6.1f} s  {r['steps_per_s']:7.1f}   {cells}; "
            f"all replicas {total_cpu:.1f} s CPU"
        )
    return lines


async def measure(plane: Any, *, replicas: int | None, flows: int) -> dict[str, Any]:
    async with harness.user_client(plane) as objects:
        return await run(plane, objects, replicas=replicas, flows=flows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--flows", type=int, default=150)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--json-out", type=Path, default=None, help="write the result here")
    args = parser.parse_args()
    results = []
    for replicas in [None, *args.replicas]:
        # A fresh control plane per run: the Jobs and pods of an earlier run would slow the
        # Job controller and the node agent for the next one.
        with harness.control_plane() as plane:
            results.append(asyncio.run(measure(plane, replicas=replicas, flows=args.flows)))
    print("\n".join(report(results)))
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(results))


if __name__ == "__main__":
    main()
