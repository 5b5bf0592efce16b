"""Run every benchmark and print the figures (``make bench``).

The controller benchmarks (hand-off latency, throughput and API writes, memory) share one local
control plane; then every other ``benchmarks/*_bench.py`` runs as its own process and its output
is printed as is. The run ends with a table of the DESIGN.md targets this script measured itself.
Figures only: nothing here asserts or fails on a number.

Run: ``.venv/bin/python -m benchmarks.run [--quick]`` (``--quick``: 1 chain, 50 flows, 1,000
cached flows instead of 2 chains, 50 and 200 flows, 5,000 cached flows). The memory figure comes
from a separate process with its own control plane, so earlier runs do not inflate it.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

from benchmarks import handoff, harness, throughput


def targets(hand: dict[str, Any], tp: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(target, measured, threshold, met) rows."""
    rows: list[tuple[str, str, str, bool]] = []
    created = hand["created"]
    if created:
        p50 = harness.percentile(created, 50) * 1000
        p99 = harness.percentile(created, 99) * 1000
        rows.append(("hand-off p50", f"{p50:.2f} ms", "<= 10 ms", p50 <= 10))
        rows.append(("hand-off p99", f"{p99:.2f} ms", "<= 50 ms", p99 <= 50))
    for b in tp["batches"]:
        rate = b["steps"] / b["seconds"]
        label = f"{b['flows']} x 10 throughput"
        rows.append((label, f"{rate:.1f} steps/s", ">= 100 steps/s (200 x 10)", rate >= 100))
        per_step = sum(b["writes"].values()) / b["steps"]
        rows.append(
            (f"{b['flows']} x 10 API writes/step", f"{per_step:.2f}", "<= 2.5", per_step <= 2.5)
        )
    cache = tp["cache"]
    if cache:
        rows.append(
            (
                f"RSS, {cache['cached_total']} flows cached",
                f"{cache['rss_mb']:.0f} MiB",
                "<= 150 MB (5,000 flows)",
                cache["rss_mb"] * 1.048576 <= 150,
            )
        )
    return rows


def run_module(name: str, *args: str) -> list[str]:
    """Run ``benchmarks.<name>`` in its own process; its output (and failure, if any)."""
    lines = ["", f"== benchmarks.{name} {' '.join(args)}".rstrip()]
    began = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{name}", *args],
        cwd=harness.REPO,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    lines += proc.stdout.rstrip().splitlines()
    if proc.returncode != 0:
        lines.append(f"(exit {proc.returncode}) {proc.stderr.strip()[-2000:]}")
    lines.append(f"({time.monotonic() - began:.0f} s)")
    return lines


def other_benchmarks() -> list[str]:
    names = sorted(p.stem for p in (harness.REPO / "benchmarks").glob("*_bench.py"))
    return [line for name in names for line in run_module(name)]


def main() -> None:
    parser = argparse.ArgumentParser(description="Run every zenflow benchmark.")
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    args = parser.parse_args()
    print(f"zenflow benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {harness.machine()}")
    with harness.control_plane() as plane:
        hand = asyncio.run(handoff.measure(plane, steps=50, runs=1 if args.quick else 2))
        print("\n== benchmarks.handoff")
        print("\n".join(handoff.report(hand)))
        tp = asyncio.run(
            throughput.measure(
                plane, sizes=[50] if args.quick else [50, 200], cache=0, qps=None, burst=None
            )
        )
        print("\n== benchmarks.throughput")
        print("\n".join(throughput.report(tp)))
    # Memory in a fresh process and control plane: nothing else inflates the figure.
    cached = 1000 if args.quick else 5000
    memory = run_module("throughput", "--only-cache", "--cache", str(cached))
    print("\n".join(memory))
    found = re.search(r"RSS with (\d+) JobFlows cached: (\d+) MiB", "\n".join(memory))
    if found:
        tp["cache"] = {"cached_total": int(found[1]), "rss_mb": float(found[2])}
    print("\n".join(other_benchmarks()))
    print("\n== targets measured above")
    rows = targets(hand, tp)
    width = max(len(r[0]) for r in rows)
    for name, measured, threshold, met in rows:
        verdict = "met" if met else "NOT met"
        print(f"  {name:<{width}}  {measured:>14}  target {threshold:<26} {verdict}")


if __name__ == "__main__":
    main()
