"""Benchmark: how long the shared validator takes on a 1,000-step DAG (target: <= 5 ms).

Run: ``.venv/bin/python -m benchmarks.validate_bench``. Not a timed test: it prints figures.
Three shapes, each 1,000 steps: a wide fan-out/fan-in layered DAG with run shorthand steps, the
same with full Job templates, and a deep chain where every step reads its predecessor's output
through ``{{ steps.X.outputs.Y }}`` (the worst case for the "finished before" reachability check).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from zenflow.core.validation.validator import validate_object


def _flow(steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "workflow.zen.io/v1alpha1",
        "kind": "JobFlow",
        "metadata": {"name": "bench"},
        "spec": {"steps": steps, "params": [{"name": "env", "default": "prod"}]},
    }


def layered(*, templates: bool) -> dict[str, Any]:
    """40 layers of 25 steps; each step depends on 2 steps of the previous layer."""
    steps = []
    width = 25
    for i in range(1000):
        layer, pos = divmod(i, width)
        deps = (
            [f"s{(layer - 1) * width + pos}", f"s{(layer - 1) * width + (pos + 1) % width}"]
            if layer
            else []
        )
        command = ["sh", "-c", f"echo step {i} in {{{{ params.env }}}}"]
        step: dict[str, Any] = {"name": f"s{i}", "dependencies": deps}
        if templates:
            # Compact, so 1,000 of them fit in the 256 KiB spec limit.
            step["template"] = {
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [
                                {"name": "main", "image": "busybox:1.36", "command": command}
                            ],
                        }
                    },
                }
            }
        else:
            step["run"] = {"image": "busybox:1.36", "command": command}
        steps.append(step)
    return _flow(steps)


def chain_with_outputs() -> dict[str, Any]:
    steps = []
    for i in range(1000):
        step: dict[str, Any] = {
            "name": f"s{i}",
            "outputs": [{"name": "value"}],
            "run": {"image": "busybox:1.36", "command": ["echo", "start"]},
        }
        if i:
            step["dependencies"] = [f"s{i - 1}"]
            step["run"]["command"] = ["echo", f"{{{{ steps.s{i - 1}.outputs.value }}}}"]
        steps.append(step)
    return _flow(steps)


def measure(build: Callable[[], dict[str, Any]], *, runs: int = 100) -> dict[str, float]:
    """Wall-clock median/p95 and the best CPU time (less disturbed by other processes)."""
    obj = build()
    report = validate_object(obj)
    assert report.ok, report.errors[:3]
    wall, cpu = [], []
    for _ in range(runs):
        began, began_cpu = time.perf_counter(), time.process_time()
        validate_object(obj)
        cpu.append((time.process_time() - began_cpu) * 1000)
        wall.append((time.perf_counter() - began) * 1000)
    wall.sort()
    return {
        "median": statistics.median(wall),
        "p95": wall[int(len(wall) * 0.95) - 1],
        "best": wall[0],
        "cpu": min(cpu),
    }


def main() -> None:
    load = os.getloadavg()[0]
    print(
        f"validate_object on 1,000-step JobFlows, ms (target <= 5 ms); "
        f"{os.cpu_count()} CPUs, load average {load:.1f}"
    )
    for label, build in (
        ("layered DAG, run shorthand", lambda: layered(templates=False)),
        ("layered DAG, Job templates", lambda: layered(templates=True)),
        ("chain, each step reads the previous output", chain_with_outputs),
    ):
        m = measure(build)
        print(
            f"  {label:<44} median {m['median']:6.2f}  p95 {m['p95']:6.2f}  "
            f"best {m['best']:6.2f}  best CPU {m['cpu']:6.2f}"
        )


if __name__ == "__main__":
    main()
