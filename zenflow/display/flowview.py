"""Terminal rendering of a JobFlow's state, shared by ``zenflow demo`` and ``kubectl jobflow``.

Pure: every function takes a JobFlow as the raw API dict (so a display never fails on fields a
newer server adds) plus ``now``, and returns text. Nothing here talks to a cluster or a terminal.

- ``snapshot`` extracts what is shown: per step phase, attempt, duration, message, dependencies.
- ``render_table`` draws the step table (ANSI colours optional) with the flow's phase and progress,
  and the last lines of a step's log under its row when given (failed steps, by the callers).
- ``transitions`` lists what changed between two snapshots, one line each (for non-TTY output).
- ``render_graph`` draws the DAG level by level with each step's phase.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from zenflow.api.formats import parse_time
from zenflow.core.dag import Dag
from zenflow.core.flowtemplates.stored import view

RESET: Final = "\x1b[0m"
BOLD: Final = "\x1b[1m"
DIM: Final = "\x1b[2m"

# phase → (symbol, ANSI colour). Unknown phases render as "?" without colour.
PHASE_STYLE: Final[Mapping[str, tuple[str, str]]] = {
    "Pending": ("·", DIM),
    "Waiting": ("⏸", "\x1b[33m"),
    "Running": ("▶", "\x1b[36m"),
    "Retrying": ("↻", "\x1b[33m"),
    "Succeeded": ("✓", "\x1b[32m"),
    "Failed": ("✗", "\x1b[31m"),
    "Skipped": ("-", DIM),
    "Suspended": ("⏸", "\x1b[33m"),
}
MESSAGE_WIDTH: Final = 60


@dataclass(frozen=True, slots=True)
class StepView:
    """One step as displayed."""

    name: str
    phase: str
    attempt: int | None
    started: datetime | None
    finished: datetime | None
    message: str
    dependencies: tuple[str, ...]
    job: str | None

    def duration(self, now: datetime) -> float | None:
        if self.started is None:
            return None
        return max(0.0, ((self.finished or now) - self.started).total_seconds())


@dataclass(frozen=True, slots=True)
class FlowView:
    """A JobFlow as displayed: identity, flow phase, progress and steps in spec order."""

    name: str
    namespace: str
    phase: str
    reason: str
    message: str
    progress: str
    started: datetime | None
    finished: datetime | None
    steps: tuple[StepView, ...]

    def step(self, name: str) -> StepView | None:
        return next((s for s in self.steps if s.name == name), None)

    def duration(self, now: datetime) -> float | None:
        if self.started is None:
            return None
        return max(0.0, ((self.finished or now) - self.started).total_seconds())

    @property
    def finished_phase(self) -> bool:
        return self.phase in ("Succeeded", "Failed")


def _dict(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def snapshot(flow: Mapping[str, Any]) -> FlowView:
    """What to show of a JobFlow object (steps in spec order: steps, then finally; a flow made
    from templates shows the spec it runs, ``status.resolved``)."""
    flow = view(flow)
    meta, spec, status = _dict(flow.get("metadata")), _dict(flow.get("spec")), flow.get("status")
    status = _dict(status)
    by_name = {str(s.get("name")): _dict(s) for s in _list(status.get("steps")) if _dict(s)}
    declared = [_dict(s) for s in (*_list(spec.get("steps")), *_list(spec.get("finally")))]
    names = [str(s.get("name", "")) for s in declared]
    # Status may list steps the spec no longer has (or a matrix expansion); show them too.
    names += [n for n in by_name if n not in names]
    deps = {
        str(s.get("name", "")): tuple(str(d) for d in _list(s.get("dependencies")))
        for s in declared
    }
    steps = []
    for name in names:
        st = by_name.get(name, {})
        attempt = st.get("attempt")
        if not isinstance(attempt, int):
            # Older statuses: a Job exists for attempt retryCount + 1.
            retries = st.get("retryCount")
            has_job = bool(st.get("jobRef"))
            attempt = (retries if isinstance(retries, int) else 0) + 1 if has_job else None
        steps.append(
            StepView(
                name=name,
                phase=str(st.get("phase") or "Pending"),
                attempt=attempt,
                started=parse_time(st.get("startTime")),
                finished=parse_time(st.get("completionTime")),
                message=str(st.get("message") or st.get("reason") or ""),
                dependencies=deps.get(name, ()),
                job=str(st["jobRef"]) if st.get("jobRef") else None,
            )
        )
    done = sum(1 for s in steps if s.phase in ("Succeeded", "Failed", "Skipped"))
    return FlowView(
        name=str(meta.get("name", "")),
        namespace=str(meta.get("namespace", "")),
        phase=str(status.get("phase") or "Pending"),
        reason=str(status.get("reason") or ""),
        message=str(status.get("message") or ""),
        progress=str(status.get("progress") or f"{done}/{len(steps)}"),
        started=parse_time(status.get("startTime")),
        finished=parse_time(status.get("completionTime")),
        steps=tuple(steps),
    )


def format_duration(seconds: float | None) -> str:
    """``-``, ``0.4s``, ``12s``, ``3m05s`` or ``1h02m``."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def phase_label(phase: str, *, color: bool) -> str:
    """``✓ Succeeded``, coloured when asked."""
    symbol, ansi = PHASE_STYLE.get(phase, ("?", ""))
    text = f"{symbol} {phase}"
    return f"{ansi}{text}{RESET}" if color and ansi else text


def _pad(cell: str, plain: str, width: int) -> str:
    # ``cell`` may carry ANSI codes; pad on the visible width of ``plain``.
    return cell + " " * max(0, width - len(plain))


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


LOG_INDENT: Final = "    │ "
LOG_WIDTH: Final = 120


def log_lines(lines: Sequence[str], *, color: bool) -> list[str]:
    """Log lines shown under a step's row: indented, clipped, dim when coloured."""
    shown = [LOG_INDENT + _clip_line(line, LOG_WIDTH) for line in lines]
    return [f"{DIM}{line}{RESET}" for line in shown] if color else shown


def _clip_line(text: str, width: int) -> str:
    text = text.replace("\t", "    ").rstrip()
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= width else text[: width - 1] + "…"


def render_table(
    view: FlowView,
    *,
    now: datetime,
    color: bool = False,
    logs: Mapping[str, Sequence[str]] | None = None,
) -> list[str]:
    """The flow header and one row per step: STEP, PHASE, ATTEMPT, DURATION, MESSAGE; under a
    step's row the lines ``logs`` holds for it (the end of a failed step's log)."""
    header = ("STEP", "PHASE", "ATTEMPT", "DURATION", "MESSAGE")
    rows = [
        (
            s.name,
            phase_label(s.phase, color=False),
            str(s.attempt) if s.attempt is not None else "-",
            format_duration(s.duration(now)),
            _clip(s.message, MESSAGE_WIDTH),
        )
        for s in view.steps
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    title = (
        f"JobFlow {view.namespace}/{view.name}  "
        f"{phase_label(view.phase, color=color)}  progress {view.progress}  "
        f"elapsed {format_duration(view.duration(now))}"
    )
    lines = [f"{BOLD}{title}{RESET}" if color else title]
    head = "  ".join(h.ljust(widths[i]) if i < 4 else h for i, h in enumerate(header))
    lines.append(f"{DIM}{head}{RESET}" if color else head)
    for step, row in zip(view.steps, rows, strict=True):
        phase_cell = phase_label(step.phase, color=color)
        cells = [row[0].ljust(widths[0]), _pad(phase_cell, row[1], widths[1])]
        cells += [row[2].ljust(widths[2]), row[3].ljust(widths[3]), row[4]]
        lines.append("  ".join(cells).rstrip())
        lines += log_lines((logs or {}).get(step.name, ()), color=color)
    return lines


def transitions(before: FlowView | None, after: FlowView) -> list[str]:
    """One line per step whose phase or attempt changed, then the flow's own change."""
    lines = []
    for step in after.steps:
        old = before.step(step.name) if before is not None else None
        if old is not None and (old.phase, old.attempt) == (step.phase, step.attempt):
            continue
        if old is None and step.phase == "Pending":
            continue
        was = old.phase if old is not None else "Pending"
        attempt = f" (attempt {step.attempt})" if step.attempt is not None else ""
        detail = f": {_clip(step.message, MESSAGE_WIDTH)}" if step.message else ""
        lines.append(f"step {step.name}: {was} -> {step.phase}{attempt}{detail}")
    if before is None or before.phase != after.phase:
        was = before.phase if before is not None else "-"
        lines.append(f"flow {after.name}: {was} -> {after.phase} ({after.progress})")
    return lines


def render_graph(view: FlowView, *, color: bool = False) -> list[str]:
    """The DAG level by level (level n only depends on levels < n), each step with its phase and
    the steps it waits for."""
    dag = Dag.from_edges([s.name for s in view.steps], {s.name: s.dependencies for s in view.steps})
    try:
        levels = dag.levels()
    except ValueError:  # a cycle (the validator reports it): fall back to spec order
        levels = [list(dag.nodes)]
    lines = [f"JobFlow {view.namespace}/{view.name}  {phase_label(view.phase, color=color)}"]
    for depth, level in enumerate(levels):
        lines.append(f"level {depth}")
        for name in level:
            step = view.step(name)
            phase = step.phase if step is not None else "Pending"
            after = dag.dependencies(name)
            waits = f"  <- {', '.join(after)}" if after else ""
            lines.append(f"  {phase_label(phase, color=color)}  {name}{waits}")
    return lines


def summary_lines(
    view: FlowView, *, now: datetime, logs: Mapping[str, Sequence[str]] | None = None
) -> list[str]:
    """The end-of-run summary: phase, duration and each step's outcome, with the lines ``logs``
    holds for a step under it (the end of a failed step's log)."""
    head = f"JobFlow {view.namespace}/{view.name} {view.phase}"
    if view.reason:
        head += f" ({view.reason})"
    head += f" in {format_duration(view.duration(now))}"
    lines = [head]
    if view.message:
        lines.append(f"  {view.message}")
    width = max((len(s.name) for s in view.steps), default=0)
    for s in view.steps:
        attempts = f", {s.attempt} attempts" if s.attempt and s.attempt > 1 else ""
        extra = f" - {_clip(s.message, MESSAGE_WIDTH)}" if s.message else ""
        took = format_duration(s.duration(now))
        lines.append(f"  {s.name.ljust(width)}  {s.phase} ({took}{attempts}){extra}")
        lines += log_lines((logs or {}).get(s.name, ()), color=False)
    return lines
