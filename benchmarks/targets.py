"""The targets of docs/BENCHMARKS.md (DESIGN.md's Performance section) and how a run's figures
meet them: one ``Row`` per target — the figure, the target, met or not — for ``benchmarks.run``
to print and write as JSON. A target whose benchmark did not run (or failed) is "not measured".

Figures from zenflow's own benchmarks come as their result dicts; those of the separate
``*_bench`` scripts (validation, webhook) are read off their printed lines.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from benchmarks import harness


@dataclass(frozen=True, slots=True)
class Row:
    target: str
    figure: float | None
    unit: str
    limit: float
    lower_is_better: bool = True
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.figure is None:
            return None
        return self.figure <= self.limit if self.lower_is_better else self.figure >= self.limit

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "met": self.met}

    def line(self, width: int) -> str:
        figure = "not measured" if self.figure is None else f"{self.figure:.2f} {self.unit}"
        sign = "<=" if self.lower_is_better else ">="
        verdict = {True: "met", False: "NOT met", None: "-"}[self.met]
        note = f"  ({self.note})" if self.note else ""
        return (
            f"  {self.target:<{width}}  {figure:>16}  target {sign} {self.limit:g} {self.unit:<6}"
            f" {verdict}{note}"
        )


def _batch(tp: dict[str, Any] | None, flows: int) -> dict[str, Any] | None:
    batches = (tp or {}).get("batches") or []
    exact = [b for b in batches if b["flows"] == flows]
    return exact[0] if exact else (batches[-1] if batches else None)


def controller_rows(
    hand: dict[str, Any] | None,
    tp: dict[str, Any] | None,
    cpu: dict[str, Any] | None,
    memory: dict[str, Any] | None,
    scale: dict[str, Any] | None,
) -> list[Row]:
    rows: list[Row] = []
    hand = hand or {}
    created = hand.get("created") or []
    rows.append(
        Row(
            f"{hand.get('steps', 20)}-step chain, wall time per step",
            hand["wall_per_step_s"] * 1000 if hand.get("wall_per_step_s") else None,
            "ms",
            300,
        )
    )
    rows.append(
        Row("hand-off p50", harness.percentile(created, 50) * 1000 if created else None, "ms", 10)
    )
    rows.append(
        Row("hand-off p99", harness.percentile(created, 99) * 1000 if created else None, "ms", 50)
    )
    b = _batch(tp, 200)
    label = f"{b['flows']} x 10" if b else "200 x 10"
    rows.append(
        Row(
            f"controller CPU per step, {cpu['flows'] if cpu else 200} x 10",
            cpu["cpu_ms_per_step"] if cpu else None,
            "ms",
            3,
            note="its own process, Event writes included"
            + (f"; in-process with the harness {b['cpu_ms_per_step']:.2f} ms" if b else ""),
        )
    )
    rows.append(
        Row(
            f"API writes per step incl. Events, {label}",
            b["writes_per_step"] if b else None,
            "",
            2.0,
        )
    )
    lag = (b or {}).get("event_lag_s") or {}
    rows.append(
        Row(
            f"last Event stored after its flow's end (max), {label}",
            lag.get("max") if b and b.get("events_settled_s") is not None else None,
            "s",
            5,
        )
    )
    idle = (memory or {}).get("idle") or {}
    rows.append(Row("idle controller RSS", idle.get("rss_mb"), "MiB", 60))
    cache = (memory or {}).get("cached") or {}
    rows.append(
        Row(
            f"RSS with {cache.get('flows', 5000)} 10-step flows cached",
            cache.get("rss_mb"),
            "MiB",
            150,
        )
    )
    if scale:
        clean = not (
            scale["wrong_phase"]
            or scale["duplicate_jobs"]
            or scale["attempts_without_job"]
            or scale["jobs_without_attempt"]
        )
        rows.append(
            Row(
                f"{scale['flows']} x 20 scale run, peak RSS",
                scale["peak_mb"] if clean else None,
                "MiB",
                150,
                note="phases and Jobs as expected" if clean else "phases/Jobs NOT as expected",
            )
        )
    return rows


def bench_rows(output: dict[str, list[str]]) -> list[Row]:
    """Targets measured by the separate scripts, read off their output lines."""
    rows: list[Row] = []
    validate = "\n".join(output.get("validate_bench", []))
    medians = [float(m) for m in re.findall(r"^\s+layered DAG.*?median\s+([\d.]+)", validate, re.M)]
    rows.append(
        Row(
            "1,000-step DAG validates (median, slowest shape of the layered DAGs)",
            max(medians) if medians else None,
            "ms",
            5,
        )
    )
    webhook = "\n".join(output.get("webhook_bench", []))
    load = re.findall(r"p99 ([\d.]+) ms \(target <= 20 ms", webhook)
    rows.append(Row("webhook p99 under load", float(load[0]) if load else None, "ms", 20))
    attack = [float(x) for x in re.findall(r"p99 ([\d.]+) ms \(target <= 100 ms", webhook)]
    nice = re.findall(r"attacker \(nice (-?\d+)\)", webhook)
    rows.append(
        Row(
            "webhook p99 under attack",
            max(attack) if attack else None,
            "ms",
            100,
            note=f"attacker at nice {nice[0]}" if nice else "",
        )
    )
    return rows


def transport_floor(output: dict[str, list[str]]) -> float | None:
    """µs of client CPU per TLS watch event at the floor (``benchmarks.transport_bench``): how
    fast this machine is during the run, to compare CPU figures of runs in different sittings."""
    found = re.findall(r"\(the floor\)\s+([\d.]+)", "\n".join(output.get("transport_bench", [])))
    return float(found[0]) if found else None


def table(rows: list[Row]) -> list[str]:
    width = max(len(r.target) for r in rows)
    return [r.line(width) for r in rows]
