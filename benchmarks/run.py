"""Run the benchmarks and print, for each target of docs/BENCHMARKS.md, the figure, the target and
met / not met (``make bench``).

Order: the chain and hand-off benchmark and the throughput batches share one local control plane
(controller in-process, ``benchmarks.handoff`` and ``benchmarks.throughput``), and so does the
controller's CPU per step measured on a ``zenflow controller`` process of its own
(``benchmarks.controller_cpu``, the figure the CPU target is met by); the memory
figures (``benchmarks.memory``) and, with ``--scale``, the 1,000 x 20 run
(``benchmarks.scale``) each run in a fresh process with their own control plane and a
``zenflow controller`` process of their own; then every other ``benchmarks/*_bench.py`` runs as
its own process and its output is printed as is. The run ends with the targets table, the
controller's CPU per step and RSS, and the machine's load. Figures only: nothing here asserts or
fails on a number.

Run: ``.venv/bin/python -m benchmarks.run [--quick] [--scale] [--sharding] [--json PATH]``.
``--quick``: 1 chain, 50 flows, 1,000 cached flows (instead of 3 chains, 50 and 200 flows, 5,000
cached flows). ``--scale``: add the scale run (about 15-30 minutes). ``--sharding``: add the
scaling-out run (``benchmarks.sharding``: 1, 2 and 3 sharded replicas). ``--json PATH``: also write
every figure and the targets as JSON, so runs can be compared.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import controller_cpu, handoff, harness, targets, throughput
from zenflow.cli import eventloop

SEPARATE = ("memory", "scale", "sharding")
"""Benchmarks of ours run in a process of their own (``--json-out`` gives their result)."""


def run_module(name: str, *args: str) -> tuple[list[str], dict[str, Any] | None]:
    """Run ``benchmarks.<name>`` in its own process; its output lines (and failure, if any) and,
    for our own benchmarks, its result."""
    lines = ["", f"== benchmarks.{name} {' '.join(args)}".rstrip()]
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        extra = ["--json-out", str(out)] if name in SEPARATE else []
        proc = subprocess.run(
            [sys.executable, "-m", f"benchmarks.{name}", *args, *extra],
            cwd=harness.REPO,
            capture_output=True,
            text=True,
            timeout=7200,
            check=False,
        )
        result = json.loads(out.read_text()) if out.exists() else None
    lines += proc.stdout.rstrip().splitlines()
    if proc.returncode != 0:
        lines.append(f"(exit {proc.returncode}) {proc.stderr.strip()[-2000:]}")
    lines.append(f"({time.monotonic() - began:.0f} s)")
    return lines, result


async def own_process_cpu(plane: Any, *, flows: int) -> dict[str, Any]:
    async with harness.user_client(plane) as objects:
        return await controller_cpu.measure(plane, objects, flows=flows, namespace="controller-cpu")


def other_benchmarks() -> dict[str, list[str]]:
    names = sorted(p.stem for p in (harness.REPO / "benchmarks").glob("*_bench.py"))
    return {name: run_module(name)[0] for name in names}


def main() -> None:
    parser = argparse.ArgumentParser(description="Run every zenflow benchmark.")
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    parser.add_argument("--scale", action="store_true", help="add the 1,000 x 20 scale run")
    parser.add_argument(
        "--sharding",
        action="store_true",
        help="add the scaling-out run (1, 2 and 3 sharded replicas; about 5-10 minutes)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    began = datetime.now(UTC)
    print(f"zenflow benchmarks, {began:%Y-%m-%d %H:%M} UTC")
    print(f"machine: {harness.machine()}; load average {os.getloadavg()[0]:.1f} at the start")
    with harness.control_plane() as plane:
        runs = 1 if args.quick else handoff.RUNS
        hand = eventloop.run(handoff.measure(plane, steps=handoff.STEPS, runs=runs))
        print("\n== benchmarks.handoff")
        print("\n".join(handoff.report(hand)))
        sizes = [50] if args.quick else [50, 200]
        tp = eventloop.run(throughput.measure(plane, sizes=sizes, qps=None, burst=None))
        print("\n== benchmarks.throughput")
        print("\n".join(throughput.report(tp)))
        cpu = eventloop.run(own_process_cpu(plane, flows=sizes[-1]))
        print("\n== benchmarks.controller_cpu")
        print("\n".join(controller_cpu.report(cpu)))
    lines, memory = run_module("memory", "--cache", "1000" if args.quick else "5000")
    print("\n".join(lines))
    scale = None
    if args.scale:
        lines, scale = run_module("scale", *(["--flows", "200"] if args.quick else []))
        print("\n".join(lines))
    sharding = None
    if args.sharding:
        lines, sharding = run_module("sharding", *(["--flows", "50"] if args.quick else []))
        print("\n".join(lines))
    output = other_benchmarks()
    for lines in output.values():
        print("\n".join(lines))
    rows = targets.controller_rows(hand, tp, cpu, memory, scale) + targets.bench_rows(output)
    print("\n== targets (docs/BENCHMARKS.md)")
    print("\n".join(targets.table(rows)))
    b = tp["batches"][-1]
    idle = (memory or {}).get("idle") or {}
    print(
        f"  controller CPU per step {cpu['cpu_ms_per_step']:.2f} ms ({cpu['flows']} x 10, its own"
        f" process; {b['cpu_ms_per_step']:.2f} ms in-process with the harness); controller RSS "
        f"idle {idle.get('rss_mb', 0):.1f} MiB, in the {b['flows']} x 10 batch "
        f"{b['rss_mb']:.0f} MiB (with the harness)"
    )
    floor = targets.transport_floor(output)
    if floor is not None:
        # The same code's CPU figures differ by up to 1.5x between sittings on shared cores.
        print(
            f"  machine speed: {floor:.1f} µs of CPU per TLS watch event at the floor "
            "(benchmarks.transport_bench): compare CPU figures of runs at a similar floor"
        )
    load = os.getloadavg()[0]
    print(f"  load average {load:.1f} at the end; {datetime.now(UTC) - began} in all")
    if args.json is not None:
        doc = {
            "when": began.isoformat(),
            "machine": harness.machine(),
            "load_average_end": load,
            "transport_floor_us": floor,
            "handoff": hand,
            "throughput": tp,
            "controller_cpu": cpu,
            "memory": memory,
            "scale": scale,
            "sharding": sharding,
            "other": output,
            "targets": [r.as_dict() for r in rows],
        }
        args.json.write_text(json.dumps(doc, indent=1, default=str))
        print(f"  figures written to {args.json}")


if __name__ == "__main__":
    main()
