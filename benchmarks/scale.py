"""Benchmark: the scale run — 1,000 JobFlows of 20 steps on the local control plane (target: all
complete with the controller's peak RSS <= 150 MiB, every flow in its expected phase, exactly
one Job per (step, attempt)).

The controller is a ``zenflow controller`` process of its own (``benchmarks.process``). Each
flow is ``start -> 9 parallel -> mid -> 8 parallel -> end`` (20 steps); every tenth flow has a
step in its second fan that exits 1 with ``retryPolicy.limit: 1``, so it runs two attempts and
the flow ends Failed (``end`` is skipped); the others end Succeeded. All flows are created at
once; the run ends when the process's ``zenflow_jobflows`` gauge counts them all finished.

Checks afterwards, from the API server: each flow's phase is the expected one; the Jobs
(label ``app.kubernetes.io/managed-by=zenflow``) are exactly one per (flow, step, attempt) that
the statuses record (attempts 1..n of every step that ran). Figures: wall time, steps per
second, peak RSS (``VmHWM``), controller CPU per step, controller API writes per step (its
``/metrics``).

Run: ``.venv/bin/python -m benchmarks.scale [--flows 1000]`` (about 15-30 minutes on 2 shared
cores), or ``python -m benchmarks.run --scale``. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks import harness
from benchmarks.memory import flows_by_phase
from benchmarks.process import ControllerProcess, controller_process
from zenflow.api.constants import LABEL_ATTEMPT, LABEL_JOBFLOW, LABEL_STEP
from zenflow.cli import eventloop
from zenflow.envtest.nodeagent.spec import ANNOTATION_EXIT_CODE

NAMESPACE = "default"
STEPS = 20
FAILING_EVERY = 10


def scale_flow(index: int) -> tuple[dict[str, Any], str]:
    """Flow ``index`` and the phase it must end in."""
    first = [f"a{i}" for i in range(9)]
    second = [f"b{i}" for i in range(8)]
    steps = [harness.step("start")]
    steps += [harness.step(a, ["start"]) for a in first]
    steps.append(harness.step("mid", first))
    steps += [harness.step(b, ["mid"]) for b in second]
    steps.append(harness.step("end", second))
    failing = index % FAILING_EVERY == FAILING_EVERY - 1
    if failing:
        bad = steps[12]
        bad["retryPolicy"] = {"limit": 1}
        bad["template"] = {
            "spec": {
                "template": {
                    "metadata": {"annotations": {ANNOTATION_EXIT_CODE: "1"}},
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "main", "image": "busybox", "command": ["false"]}],
                    },
                }
            }
        }
        del bad["run"]
    assert len(steps) == STEPS
    return harness.flow(f"scale-{index}", steps), "Failed" if failing else "Succeeded"


async def wait_finished(proc: ControllerProcess, flows: int, *, within: float) -> None:
    deadline = time.monotonic() + within
    while True:
        phases = flows_by_phase(proc)
        if phases.get("Succeeded", 0) + phases.get("Failed", 0) >= flows:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"scale run unfinished after {within:.0f} s: {phases}")
        await asyncio.sleep(1.0)


async def check(objects: Any, expected: dict[str, str]) -> dict[str, Any]:
    flows = await harness.list_all(objects, harness.flows_path(NAMESPACE))
    wrong = {}
    recorded: set[tuple[str, str, int]] = set()
    for obj in flows:
        name = obj["metadata"]["name"]
        if name not in expected:
            continue
        phase = (obj.get("status") or {}).get("phase")
        if phase != expected[name]:
            wrong[name] = phase
        for st in (obj.get("status") or {}).get("steps") or []:
            for attempt in range(1, (st.get("attempt") or 0) + 1):
                recorded.add((name, st["name"], attempt))
    jobs = await harness.list_all(
        objects,
        f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs",
        labelSelector="app.kubernetes.io/managed-by=zenflow",
    )
    per_attempt: Counter[tuple[str, str, int]] = Counter()
    for job in jobs:
        labels = job["metadata"].get("labels") or {}
        if labels.get(LABEL_JOBFLOW) in expected:
            attempt = int(labels[LABEL_ATTEMPT])
            per_attempt[(labels[LABEL_JOBFLOW], labels[LABEL_STEP], attempt)] += 1
    return {
        "flows_checked": sum(1 for o in flows if o["metadata"]["name"] in expected),
        "wrong_phase": wrong,
        "jobs": sum(per_attempt.values()),
        "attempts_recorded": len(recorded),
        "duplicate_jobs": sum(n - 1 for n in per_attempt.values() if n > 1),
        "attempts_without_job": len(recorded - set(per_attempt)),
        "jobs_without_attempt": len(set(per_attempt) - recorded),
    }


async def measure(plane: Any, *, flows: int) -> dict[str, Any]:
    made = [scale_flow(i) for i in range(flows)]
    expected = {body["metadata"]["name"]: phase for body, phase in made}
    with controller_process(plane) as proc:
        cpu_before, writes_before = proc.cpu_seconds(), proc.requests()
        began = time.perf_counter()
        async with harness.user_client(plane) as objects:
            await harness.create_flows(objects, NAMESPACE, [body for body, _ in made])
            await wait_finished(proc, flows, within=7200)
            seconds = time.perf_counter() - began
            checked = await check(objects, expected)
        requests = proc.requests()
        writes = {
            m: requests.get(m, 0) - writes_before.get(m, 0)
            for m in harness.WRITE_METHODS
            if requests.get(m, 0) - writes_before.get(m, 0)
        }
        steps = checked["attempts_recorded"]
        return {
            "flows": flows,
            "steps": steps,
            "seconds": seconds,
            "peak_mb": proc.peak_mib(),
            "rss_mb": proc.rss_mib(),
            "cpu_ms_per_step": (proc.cpu_seconds() - cpu_before) / max(steps, 1) * 1000,
            "writes": writes,
            "writes_per_step": sum(writes.values()) / max(steps, 1),
            "expected": dict(Counter(expected.values())),
            **checked,
        }


def report(r: dict[str, Any]) -> list[str]:
    ok = not r["wrong_phase"] and not r["duplicate_jobs"] and not r["attempts_without_job"]
    ok = ok and not r["jobs_without_attempt"] and r["flows_checked"] == r["flows"]
    return [
        f"Scale run: {r['flows']} flows x {STEPS} steps ({r['expected']} expected), controller "
        "in its own process (target: peak RSS <= 150 MiB)",
        f"  finished in {r['seconds']:.0f} s ({r['steps'] / r['seconds']:.1f} step attempts/s); "
        f"peak RSS {r['peak_mb']:.1f} MiB, RSS at the end {r['rss_mb']:.1f} MiB",
        f"  controller CPU {r['cpu_ms_per_step']:.2f} ms/step, API writes/step "
        f"{r['writes_per_step']:.2f} ({r['writes']})",
        f"  checked {r['flows_checked']} flows: wrong phase {len(r['wrong_phase'])}"
        f"{' ' + str(dict(list(r['wrong_phase'].items())[:5])) if r['wrong_phase'] else ''}; "
        f"{r['jobs']} Jobs for {r['attempts_recorded']} recorded (step, attempt)s: "
        f"{r['duplicate_jobs']} duplicates, {r['attempts_without_job']} attempts without a Job, "
        f"{r['jobs_without_attempt']} Jobs of no recorded attempt -> "
        f"{'all as expected' if ok else 'NOT as expected'}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--flows", type=int, default=1000)
    parser.add_argument("--json-out", type=Path, default=None, help="write the result here")
    args = parser.parse_args()
    with harness.control_plane() as plane:
        result = eventloop.run(measure(plane, flows=args.flows))
    print("\n".join(report(result)))
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
