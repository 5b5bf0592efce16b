"""Benchmark: the controller process's memory (targets: idle RSS <= 60 MiB; <= 150 MiB with 5,000
JobFlows of 10 steps cached).

Each figure comes from a ``zenflow controller`` process of its own (``benchmarks.process``: no
webhook, no leader election), read from ``/proc``: the benchmark's own process (which creates
the flows) plays no part.

- *idle*: the process started, its caches synced, two 5-step chains run through it and
  finished, its Events written; then RSS, and the peak (``VmHWM``) so far — as the image runs it
  (runtime dependencies only, ``benchmarks.process``), and once more in the development
  environment;
- *cached*: N suspended 10-step flows (``start -> 8 -> end``, no Jobs) created and each
  reconciled to ``Suspended`` (its status written, as the process's ``zenflow_jobflows``
  gauge shows), then RSS once the Events are written (5 s later) and the peak.

Run: ``.venv/bin/python -m benchmarks.memory [--cache 5000]``. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks import harness, throughput
from benchmarks.process import ControllerProcess, controller_process

NAMESPACE = "default"
SETTLE_S = 5.0


def flows_by_phase(proc: ControllerProcess) -> dict[str, int]:
    """The process's ``zenflow_jobflows`` gauge (flows by phase); empty when the busy process
    did not answer in time."""
    try:
        url = f"http://127.0.0.1:{proc.port}/metrics"
        with urllib.request.urlopen(url, timeout=30) as reply:
            text = reply.read().decode()
    except OSError:  # URLError and timeouts included
        return {}
    return {
        phase: int(float(value))
        for phase, value in re.findall(r'^zenflow_jobflows\{phase="(\w+)"\} (\S+)', text, re.M)
    }


async def wait_phase(proc: ControllerProcess, phase: str, count: int, *, within: float) -> None:
    deadline = time.monotonic() + within
    while flows_by_phase(proc).get(phase, 0) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{count} flows {phase}: {flows_by_phase(proc)}")
        await asyncio.sleep(0.5)


def chain(name: str, steps: int) -> dict[str, Any]:
    body = [harness.step("s0")] + [harness.step(f"s{i}", [f"s{i - 1}"]) for i in range(1, steps)]
    return harness.flow(name, body)


async def idle(plane: Any, *, runtime_only: bool = True, tag: str = "idle") -> dict[str, Any]:
    with controller_process(plane, runtime_only=runtime_only) as proc:
        ready = proc.rss_mib()
        async with harness.user_client(plane) as objects:
            flows = [chain(f"{tag}-a", 5), chain(f"{tag}-b", 5)]
            await harness.create_flows(objects, NAMESPACE, flows)
            await wait_phase(proc, "Succeeded", 2, within=120)
        await asyncio.sleep(SETTLE_S)
        return {"ready_mb": ready, "rss_mb": proc.rss_mib(), "peak_mb": proc.peak_mib()}


async def cached(plane: Any, *, flows: int) -> dict[str, Any]:
    with controller_process(plane) as proc:
        bodies = []
        for i in range(flows):
            body = throughput.fan_flow(f"cached-{i}")
            body["spec"]["suspend"] = True
            bodies.append(body)
        began = time.perf_counter()
        async with harness.user_client(plane) as objects:
            await harness.create_flows(objects, NAMESPACE, bodies)
        await wait_phase(proc, "Suspended", flows, within=900)
        seconds = time.perf_counter() - began
        at_end = proc.rss_mib()
        await asyncio.sleep(SETTLE_S)
        return {
            "flows": flows,
            "seconds": seconds,
            "rss_at_end_mb": at_end,
            "rss_mb": proc.rss_mib(),
            "peak_mb": proc.peak_mib(),
            "cpu_s": proc.cpu_seconds(),
        }


def report(result: dict[str, Any]) -> list[str]:
    lines = ["Controller process memory (zenflow controller --no-webhook, its own process)"]
    if idle := result.get("idle"):
        lines.append(
            f"  idle: RSS {idle['rss_mb']:.1f} MiB after two 5-step chains (target <= 60), "
            f"{idle['ready_mb']:.1f} MiB once ready, peak {idle['peak_mb']:.1f} MiB "
            "(runtime dependencies only, as the image)"
        )
    if dev := result.get("idle_dev"):
        lines.append(
            f"        {dev['rss_mb']:.1f} MiB in the development environment (peak "
            f"{dev['peak_mb']:.1f} MiB; structlog loads rich there)"
        )
    if cache := result.get("cached"):
        lines.append(
            f"  {cache['flows']} suspended 10-step JobFlows cached: RSS {cache['rss_mb']:.1f} MiB "
            f"(target <= 150 with 5,000), {cache['rss_at_end_mb']:.1f} MiB the moment the last "
            f"was reconciled, peak {cache['peak_mb']:.1f} MiB; created and reconciled in "
            f"{cache['seconds']:.0f} s, controller CPU {cache['cpu_s']:.0f} s"
        )
    return lines


async def measure(plane: Any, *, cache: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "idle": await idle(plane),
        "idle_dev": await idle(plane, runtime_only=False, tag="dev"),
    }
    if cache:
        result["cached"] = await cached(plane, flows=cache)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cache", type=int, default=5000, help="suspended flows (0: idle only)")
    parser.add_argument("--json-out", type=Path, default=None, help="write the result here")
    args = parser.parse_args()
    with harness.control_plane() as plane:
        result = asyncio.run(measure(plane, cache=args.cache))
    print("\n".join(report(result)))
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
