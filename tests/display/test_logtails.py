"""The end of a failed step's log in the terminal views (``flowview``, ``live``, ``logreader``).

Aspects: the step table and the end-of-run summary show given log lines under the step's row,
indented, clipped and with control characters made visible (dim when coloured); a live view
draws them under the row on a terminal and prints them once after the transitions elsewhere;
the API server's message is taken out of a ``KubeError``; a byte stream becomes lines as they
complete.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from zenflow.display.flowview import (
    DIM,
    LOG_INDENT,
    render_table,
    snapshot,
    summary_lines,
)
from zenflow.display.live import LiveView
from zenflow.display.logreader import api_message, lines_of
from zenflow.errors import KubeError

NOW = datetime(2026, 1, 1, 12, 0, 10, tzinfo=UTC)


def _flow() -> dict[str, Any]:
    return {
        "metadata": {"name": "f", "namespace": "ns"},
        "spec": {"steps": [{"name": "ok"}, {"name": "bad", "dependencies": ["ok"]}]},
        "status": {
            "phase": "Failed",
            "startTime": "2026-01-01T12:00:00Z",
            "completionTime": "2026-01-01T12:00:05Z",
            "steps": [
                {"name": "ok", "phase": "Succeeded", "attempt": 1},
                {"name": "bad", "phase": "Failed", "attempt": 1, "message": "exit code 3"},
            ],
        },
    }


LOGS = {"bad": ["connecting\tto db", "error: refused \x1b[31m", "x" * 300]}


def test_table_shows_log_lines_under_the_failed_step() -> None:
    lines = render_table(snapshot(_flow()), now=NOW, logs=LOGS)
    at = next(i for i, line in enumerate(lines) if line.startswith("bad"))
    assert lines[at + 1] == f"{LOG_INDENT}connecting    to db"
    assert lines[at + 2] == f"{LOG_INDENT}error: refused ?[31m"
    assert lines[at + 3].endswith("…")
    assert len(lines[at + 3]) == len(LOG_INDENT) + 120
    assert len(lines) == at + 4
    coloured = render_table(snapshot(_flow()), now=NOW, logs=LOGS, color=True)
    assert any(line.startswith(f"{DIM}{LOG_INDENT}connecting") for line in coloured)


def test_summary_shows_log_lines_under_the_failed_step() -> None:
    lines = summary_lines(snapshot(_flow()), now=NOW, logs={"bad": ["boom"]})
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("bad"))
    assert lines[at + 1] == f"{LOG_INDENT}boom"


def test_live_view_on_a_terminal_and_elsewhere() -> None:
    out = io.StringIO()
    live = LiveView(out, tty=True, started=NOW)
    live.update(snapshot(_flow()), now=NOW, logs={"bad": ["boom"]})
    assert f"{LOG_INDENT}boom" in out.getvalue()
    plain = io.StringIO()
    log = LiveView(plain, tty=False, started=NOW)
    log.update(snapshot(_flow()), now=NOW)
    log.update(snapshot(_flow()), now=NOW, logs={"bad": ["boom"]})
    log.update(snapshot(_flow()), now=NOW, logs={"bad": ["boom"]})
    text = plain.getvalue()
    assert text.count("log of step bad, last lines:") == 1
    assert text.count(f"{LOG_INDENT}boom\n") == 1


def test_api_message() -> None:
    forbidden = KubeError(
        'read the log of pod p: 403 Forbidden: pods "p" is forbidden: User "alice" cannot get '
        'resource "pods/log"',
        status=403,
    )
    assert api_message(forbidden) == (
        'pods "p" is forbidden: User "alice" cannot get resource "pods/log"'
    )
    assert api_message(KubeError("get /x: API server unreachable")) == (
        "get /x: API server unreachable"
    )


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_lines_of_a_stream() -> None:
    got = [line async for line in lines_of(_chunks(b"on", b"e\ntwo\nthr", b"ee"))]
    assert got == ["one", "two", "three"]
