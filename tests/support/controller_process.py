"""``zenflow controller`` as a child process (``python -m zenflow controller``), for tests that
kill, restart or race real controller processes (crash, fault and leader-election tests).

A ``ControllerProcess`` is started with ``start`` and may be started again after ``kill`` (the
same log file and record list go on). Its stderr is copied line by line to a log file and every
JSON log line is kept as a record, so a test waits for what the process says it did
(``wait_for("leader_acquired")``) rather than for a time. ``controller_args`` builds the usual
arguments: one namespace, JSON logs, no webhook (several processes share the machine), metrics on
a free local port, and leader election off or with short timings.

Invariant: the records of a finished process are complete once ``wait_for`` or ``close`` returns
(the reader thread has read to the end of its stderr).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from tests.support.wait import eventually_sync

LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD = 3.0, 2.0, 0.5
"""Short leader-election timings (seconds) that ``controller_args`` gives a Lease."""


def controller_args(
    *, kubeconfig: Path, namespace: str, lease: str | None, log_level: str = "info"
) -> list[str]:
    """Arguments for a controller watching ``namespace``; ``lease``: the Lease (in that
    namespace) to elect a leader with, with the short timings above, or None for no election."""
    election = (
        [
            "--leader-election",
            "--leader-election-namespace", namespace,
            "--lease-name", lease,
            "--lease-duration", str(LEASE_DURATION),
            "--renew-deadline", str(RENEW_DEADLINE),
            "--retry-period", str(RETRY_PERIOD),
        ]
        if lease is not None
        else ["--no-leader-election"]
    )  # fmt: skip
    return [
        "--kubeconfig", str(kubeconfig),
        "--namespace", namespace,
        *election,
        "--no-webhook",
        "--http-host", "127.0.0.1",
        "--http-port", "0",
        "--log-format", "json",
        "--log-level", log_level,
    ]  # fmt: skip


class ExitedError(Exception):
    """The process ended before it logged what a test waited for."""


class ControllerProcess:
    """One controller process (``POD_NAME`` = ``name``), restartable, logging to ``log_path``."""

    def __init__(self, name: str, args: list[str], *, log_path: Path) -> None:
        self.name = name
        self.args = args
        self.log_path = log_path
        self.starts = 0
        self.records: list[dict[str, Any]] = []
        self._proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._lock = threading.Lock()
        self._log: IO[str] = log_path.open("w")

    @property
    def proc(self) -> subprocess.Popen[str]:
        assert self._proc is not None, f"{self.name} was never started"
        return self._proc

    def start(self) -> ControllerProcess:
        assert self._proc is None or self._proc.poll() is not None, f"{self.name} is running"
        self._join_reader()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZENFLOW_")}
        env["POD_NAME"] = self.name
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "zenflow", "controller", *self.args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, args=(self._proc,), daemon=True)
        self._reader.start()
        self.starts += 1
        return self

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        with proc.stderr:
            for line in proc.stderr:
                self._log.write(line)
                self._log.flush()
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict):
                    with self._lock:
                        self.records.append(record)

    def _join_reader(self) -> None:
        if self._reader is not None:
            self._reader.join(10)
            assert not self._reader.is_alive(), f"{self.name}: stderr still open"

    # -- what it logged ------------------------------------------------------------------------

    def events(self, event: str) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.records if r.get("event") == event]

    def wait_for(self, event: str, *, within: float, count: int = 1) -> dict[str, Any]:
        """The ``count``-th record of ``event`` (the first by default); fails when the process
        ends without logging it."""

        def logged() -> dict[str, Any] | None:
            found = self.events(event)
            if len(found) >= count:
                return found[count - 1]
            if self.proc.poll() is not None:
                self._join_reader()  # everything it wrote is read
                found = self.events(event)
                if len(found) >= count:
                    return found[count - 1]
                raise ExitedError(
                    f"{self.name} exited {self.proc.returncode} before {event} x{count}"
                )
            return None

        return eventually_sync(logged, what=f"{self.name}: {event}", within=within, interval=0.02)

    def text(self) -> str:
        return self.log_path.read_text()

    # -- ending it -----------------------------------------------------------------------------

    def kill(self) -> None:
        """SIGKILL, and wait until it is gone."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._join_reader()

    def terminate(self, *, within: float = 30.0) -> int:
        """SIGTERM; the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(within)
        self._join_reader()
        return code

    def close(self) -> None:
        """Stop it if still running (SIGTERM, SIGKILL after 30 s) and close the log file."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
        self._join_reader()
        self._log.close()


def parse_ts(value: str) -> datetime:
    """A log record's ``timestamp``."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
