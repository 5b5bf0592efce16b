"""Benchmark: a chain of instant steps end to end, and the step hand-off latency inside it, on
the local control plane (targets: <= 0.3 s per step end to end; hand-off p50 <= 10 ms,
p99 <= 50 ms).

Chains of 20 steps (s0 -> s1 -> ... -> s19) run one after the other with the controller
in-process and pods completed at once by the node agent (annotation mode). *Wall time per step*
= from the flow's create to the controller's cache showing it Succeeded, divided by the steps:
everything a user waits for (controller, Job controller, node agent). For each link, *hand-off*
= the moment the controller's caches show step i decided (its pod Succeeded, or a deciding Job
condition: the informer event that queues the flow) -> the moment the POST creating step
i+1's Job was answered. Both instants are taken inside the controller process
(``harness.Probe``), so the apiserver's 1-second timestamps play no part. The time until the
POST was *sent* is printed too (the rest is the apiserver's create latency).

Run: ``.venv/bin/python -m benchmarks.handoff [--steps N] [--runs R]``. Prints figures; asserts
nothing.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from benchmarks import harness
from zenflow.cli import eventloop

NAMESPACE = "default"
STEPS, RUNS = 20, 3


async def measure(plane: Any, *, steps: int, runs: int) -> dict[str, Any]:
    sent: list[float] = []
    created: list[float] = []
    walls: list[float] = []
    async with harness.running_controller(plane) as ctl, harness.user_client(plane) as objects:
        for run in range(runs):
            name = f"chain-{run}"
            chain = [harness.step("s0")]
            chain += [harness.step(f"s{i}", [f"s{i - 1}"]) for i in range(1, steps)]
            began = time.perf_counter()
            await harness.create_flows(objects, NAMESPACE, [harness.flow(name, chain)])

            def finished(flow_name: str = name) -> bool:
                return any(
                    f["metadata"]["name"] == flow_name
                    and (f.get("status") or {}).get("phase") in ("Succeeded", "Failed")
                    for f in ctl.flows()
                )

            await harness.wait_until(finished, within=60 + steps * 10)
            walls.append(time.perf_counter() - began)
            probe = ctl.probe
            for i in range(1, steps):
                done = probe.decided.get((name, f"s{i - 1}"))
                if done is None:
                    continue
                if (name, f"s{i}") in probe.create_sent:
                    sent.append(probe.create_sent[(name, f"s{i}")] - done)
                    created.append(probe.created[(name, f"s{i}")] - done)
    return {
        "sent": sent,
        "created": created,
        "walls": walls,
        "steps": steps,
        "runs": runs,
        "wall_per_step_s": sum(walls) / len(walls) / steps if walls else None,
    }


def report(result: dict[str, Any]) -> list[str]:
    created: list[float] = result["created"]
    sent: list[float] = result["sent"]
    if not created:
        return ["handoff: no hand-offs observed"]
    ms = 1000.0

    def row(label: str, values: list[float]) -> str:
        return (
            f"  {label:<34} p50 {harness.percentile(values, 50) * ms:7.2f}  "
            f"p99 {harness.percentile(values, 99) * ms:7.2f}  max {max(values) * ms:7.2f}"
        )

    per_step = [w / result["steps"] for w in result["walls"]]
    return [
        f"Step hand-off, {result['runs']} x {result['steps']}-step chain, "
        f"{len(created)} hand-offs (ms; targets p50 <= 10, p99 <= 50)",
        row("step decided seen -> next Job created", created),
        row("step decided seen -> create POST sent", sent),
        f"  chain wall time per step (incl. Job controller + node agent): "
        f"{sum(per_step) / len(per_step) * ms:.0f} ms (target <= 300)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args()
    with harness.control_plane() as plane:
        result = eventloop.run(measure(plane, steps=args.steps, runs=args.runs))
    print("\n".join(report(result)))


if __name__ == "__main__":
    main()
