"""Benchmark: the web UI's time to first render of a 1,000-step flow, and the server's memory.

Run: ``.venv/bin/python -m benchmarks.ui_bench [--runs 5] [--steps 1000]``. Not a timed test:
it prints figures. Loopback only, bounded in count.

A local control plane (no node agent: nothing runs) holds one suspended JobFlow of ``--steps``
steps in a layered DAG (fan-out and fan-in every few layers, as a real big pipeline).
``zenflow ui`` runs as its own process (so its RSS is its own) and headless Chromium opens the
flow's page ``--runs`` times from a blank tab. Time to first render is measured in the page:
from navigation start (``performance.timeOrigin``) to the moment the last SVG node of the DAG is
in the document (``performance.now()`` recorded by the page), so it includes loading the page
and its scripts, the server's JSON (views and layout), and drawing. The server's RSS is read
from /proc before the first page and after the last one (and its peak, VmHWM).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.ui.browser import start_chromium
from zenflow.envtest import ControlPlane

REPO = Path(__file__).resolve().parents[1]
NAMESPACE = "default"
TOKEN = "ui-bench-token"
MAX_RUNS = 50
URL_LINE = re.compile(r"(http://127\.0\.0\.1:\d+/)\?token=")


def big_flow(steps: int) -> str:
    """A JobFlow of ``steps`` steps: layers of growing width, each step depending on one or two
    steps of the layer before (a DAG like a partitioned ETL), as YAML for kubectl."""
    lines = [
        "apiVersion: workflow.zen.io/v1alpha1",
        "kind: JobFlow",
        "metadata: {name: big}",
        "spec:",
        "  suspend: true",
        "  steps:",
    ]
    previous: list[str] = []
    current: list[str] = []
    width = 1
    for i in range(steps):
        name = f"step-{i:04d}"
        deps = [previous[i % len(previous)]] if previous else []
        if previous and i % 3 == 0:
            deps.append(previous[(i // 3) % len(previous)])
        deps = list(dict.fromkeys(deps))
        lines.append(f"  - name: {name}")
        if deps:
            lines.append(f"    dependencies: [{', '.join(deps)}]")
        lines.append("    run: {image: busybox, command: ['true']}")
        current.append(name)
        if len(current) >= width:
            previous, current = current, []
            width = min(width * 2, 64)
    return "\n".join(lines) + "\n"


def rss_kib(pid: int) -> dict[str, int]:
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def start_ui(plane: ControlPlane, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    argv = [
        sys.executable, "-m", "zenflow", "ui", "--kubeconfig", str(plane.kubeconfig_path),
        "-n", NAMESPACE, "--port", "0", "--log-level", "warning",
    ]  # fmt: skip
    out = log.open("wb")
    proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                            env={**os.environ, "ZENFLOW_UI_TOKEN": TOKEN})  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = URL_LINE.search(log.read_text(errors="replace"))
        if found:
            return proc, found.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"zenflow ui did not start; its output:\n{log.read_text(errors='replace')}")


def measure(url: str, runs: int, steps: int) -> list[dict[str, Any]]:
    driver = start_chromium()
    results: list[dict[str, Any]] = []
    try:
        driver.get(f"{url}?token={TOKEN}")
        for _ in range(runs):
            driver.get("about:blank")
            driver.get(f"{url}#/flows/{NAMESPACE}/big")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                done = driver.execute_script(
                    "return document.querySelectorAll('svg.dag .node').length === arguments[0]"
                    " && document.body.dataset.renderedAt"
                    " ? {at: Number(document.body.dataset.renderedAt),"
                    "    draw: Number(document.body.dataset.renderMs)} : null",
                    steps,
                )
                if done:
                    results.append(done)
                    break
                time.sleep(0.02)
            else:
                raise SystemExit("the flow page did not render within 60 s")
    finally:
        driver.quit()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    runs = max(1, min(args.runs, MAX_RUNS))
    with ControlPlane(node_agent=False) as plane, tempfile.TemporaryDirectory() as tmp:
        plane.install_crds(REPO / "crds")
        flow = Path(tmp) / "big.yaml"
        flow.write_text(big_flow(args.steps))
        plane.kubectl("create", "-n", NAMESPACE, "-f", str(flow))
        proc, url = start_ui(plane, Path(tmp) / "ui.log")
        try:
            before = rss_kib(proc.pid)
            results = measure(url, runs, args.steps)
            after = rss_kib(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    firsts = [r["at"] for r in results]
    draws = [r["draw"] for r in results]
    print(f"UI: {args.steps}-step flow page in headless Chromium, {runs} loads from a blank tab")
    median = statistics.median(firsts)
    print(
        f"  time to first render (navigation start -> DAG drawn): median {median:.0f} ms,"
        f" min {min(firsts):.0f} ms, max {max(firsts):.0f} ms (the first load is cold)"
    )
    print(f"  of which drawing the SVG: median {statistics.median(draws):.0f} ms")
    print(
        f"  zenflow ui server RSS: {before['VmRSS'] / 1024:.1f} MiB before the first page,"
        f" {after['VmRSS'] / 1024:.1f} MiB after the last (peak {after['VmHWM'] / 1024:.1f} MiB)"
    )


if __name__ == "__main__":
    main()
