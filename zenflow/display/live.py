"""Showing a JobFlow's progress on a stream, live.

On a terminal the step table is redrawn in place (cursor up, clear, draw) with colours; on
anything else (CI logs, pipes) each change is printed once as a line with the elapsed time, so
the output reads as a log. Drawing is separate from deciding what to draw (``flowview``).
Lines of a step's log given with an update (the end of a failed step's) are drawn under its
row on a terminal, and printed once, after the step's transition, elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TextIO

from zenflow.display.flowview import FlowView, log_lines, render_table, transitions


class LiveView:
    """Feed it snapshots with ``update``; it writes what the stream should show."""

    def __init__(self, out: TextIO, *, tty: bool | None = None, started: datetime) -> None:
        self._out = out
        self.tty = out.isatty() if tty is None else tty
        self._started = started
        self._drawn = 0  # lines of the table currently on screen (TTY)
        self._last: FlowView | None = None
        self._logged: set[str] = set()  # steps whose log lines were printed (not a TTY)

    def update(
        self,
        view: FlowView,
        *,
        now: datetime,
        logs: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        if self.tty:
            self._redraw(view, now=now, logs=logs)
        else:
            stamp = f"[{(now - self._started).total_seconds():6.1f}s]"
            for line in transitions(self._last, view):
                self._out.write(f"{stamp} {line}\n")
            for step, lines in (logs or {}).items():
                if step not in self._logged and lines:
                    self._logged.add(step)
                    self._out.write(f"{stamp} log of step {step}, last lines:\n")
                    self._out.write("".join(f"{line}\n" for line in log_lines(lines, color=False)))
        self._last = view
        self._out.flush()

    def note(self, text: str) -> None:
        """A message above the live table (the table is redrawn below it on the next update)."""
        self._clear()
        self._out.write(text + "\n")
        self._out.flush()

    def _clear(self) -> None:
        if self.tty and self._drawn:
            # To the start of the first table line, then erase to the end of the screen.
            self._out.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    def _redraw(
        self, view: FlowView, *, now: datetime, logs: Mapping[str, Sequence[str]] | None
    ) -> None:
        lines = render_table(view, now=now, color=True, logs=logs)
        self._clear()
        self._out.write("\n".join(lines) + "\n")
        self._drawn = len(lines)
